"""Timed decisions on a clock with sub-second moments: never early, because status keeps the fraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakecluster import blue_green_spec, canary_spec, mv_name, new_driver

from modelrollout.api.common import format_time, parse_time

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), "2026-03-01T12:00:05Z"),
        (datetime(2026, 3, 1, 12, 0, 5, 900000, tzinfo=UTC), "2026-03-01T12:00:05.9Z"),
        (datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC), "2026-03-01T12:00:05.123456Z"),
    ],
)
def test_timestamps_keep_microseconds_and_round_trip(moment: datetime, text: str) -> None:
    assert format_time(moment) == text
    assert parse_time(text) == moment


# Passes run at offset + 0.3 k seconds: never on a whole second.
@pytest.mark.parametrize("offset", [0.05, 0.55, 0.95])
def test_a_pause_starting_within_a_second_never_ends_early(offset: float) -> None:
    seconds = 3.0
    driver = new_driver(
        canary_spec(steps=[{"setWeight": 25}, {"pause": {"duration": "3s"}}, {"setWeight": 50}]), tick=0.3
    )
    driver.advance(offset)
    driver.run_until(lambda d: d.status.current_step == 1)
    started = parse_time(driver.status.step_started_at or "")
    assert started.microsecond != 0, "the pause starts within a second"
    while driver.status.current_step == 1:
        before = driver.now
        driver.step()
        elapsed = (before - started).total_seconds()
        if driver.status.current_step == 1:
            assert elapsed < seconds
        else:
            assert seconds <= elapsed < seconds + driver.tick, "advanced at the first pass past the boundary"


@pytest.mark.parametrize("offset", [0.3, 0.8])
def test_auto_promotion_never_switches_early(offset: float) -> None:
    driver = new_driver(blue_green_spec(autoPromotionSeconds=6, analysis=None), tick=0.4)
    driver.advance(offset)
    driver.run_until(lambda d: d.status.blue_green is not None and d.status.blue_green.preview_ready_at is not None)
    assert driver.status.blue_green is not None and driver.status.blue_green.preview_ready_at is not None
    ready_at = parse_time(driver.status.blue_green.preview_ready_at)
    while driver.service("active") == V1:
        before = driver.now
        driver.step()
        elapsed = (before - ready_at).total_seconds()
        assert (driver.service("active") == V2) == (elapsed >= 6), elapsed


def test_progress_deadline_fires_only_once_it_has_passed() -> None:
    driver = new_driver(canary_spec(progressDeadlineSeconds=15), ready_after={"1.1.0": None}, tick=0.3)
    driver.advance(0.7)
    driver.step()
    progress_at = parse_time(driver.status.progress_at or "")
    assert progress_at.microsecond != 0
    while driver.status.candidate_version is not None and driver.now - progress_at < timedelta(seconds=20):
        before = driver.now
        driver.step()
        elapsed = (before - progress_at).total_seconds()
        assert (driver.status.candidate_version is None) == (elapsed > 15), elapsed
    assert driver.status.candidate_version is None
    assert driver.status.history[-1].reason.startswith("ProgressDeadlineExceeded")
