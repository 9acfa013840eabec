"""Blue-green: preview when ready, promotion (auto, manual, gated by analysis), switch back, scale-down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakecluster import Driver, blue_green_spec, mv_name, new_driver, steps_pass, steps_wait

from modelrollout.api.common import format_time, parse_time
from modelrollout.core.analysis_contract import AnalysisSummary

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")


def pass_time(driver: Driver) -> float:
    """Seconds since T0 at which the last pass ran."""
    return (driver.now - timedelta(seconds=driver.tick) - parse_time("2026-03-01T12:00:00Z")).total_seconds()


@pytest.mark.parametrize("replicas", [1, 3])
@pytest.mark.parametrize("delay", [0, 2, 5])
def test_preview_selects_the_candidate_only_once_all_its_pods_are_ready(replicas: int, delay: int) -> None:
    driver = new_driver(blue_green_spec(replicas=replicas, autoPromotionEnabled=False), ready_after={"1.1.0": delay})
    for _ in range(delay + 5):
        driver.step()
        if driver.service("preview") == V2:
            assert driver.cluster.ready(V2) == replicas
        else:
            assert driver.service("preview") == V1
        assert driver.service("active") == V1
        assert driver.cluster.replicas(V1) == replicas, "stable keeps every pod until after the switch"
    assert driver.service("preview") == V2
    assert driver.status.phase == "Paused"
    assert driver.status.blue_green is not None and driver.status.blue_green.preview_ready_at is not None
    assert len(driver.events("PreviewReady")) == 1


@pytest.mark.parametrize("seconds", [0, 30, 61])
def test_auto_promotion_after_auto_promotion_seconds(seconds: int) -> None:
    driver = new_driver(blue_green_spec(autoPromotionSeconds=seconds, analysis=None))
    driver.run_until(lambda d: bool(d.events("PreviewReady")))
    ready_at = driver.now - timedelta(seconds=driver.tick)
    while driver.service("active") == V1:
        decision = driver.step()
        elapsed = (driver.now - timedelta(seconds=driver.tick) - ready_at).total_seconds()
        if driver.service("active") == V1:
            assert elapsed < seconds
            assert decision.requeue_after == pytest.approx(seconds - elapsed)
            # The message names the moment, so it (and status) stays put while waiting.
            until = format_time(ready_at + timedelta(seconds=seconds))
            assert driver.status.message == f"preview ready; auto-promotion at {until}"
        else:
            assert elapsed >= seconds
    assert driver.status.phase == "Healthy"
    assert driver.status.stable_version == V2
    assert driver.status.blue_green is None
    assert [e.reason for e in driver.events()].count("Switched") == 1


def test_manual_promotion_waits_for_promote() -> None:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False, autoPromotionSeconds=5))
    driver.run(100)
    assert driver.status.phase == "Paused"
    assert driver.status.pause_reason == "preview ready: waiting for promote"
    assert driver.condition("Paused").reason == "BlueGreenPause"
    assert len(driver.events("Paused")) == 1
    assert driver.service("active") == V1
    assert driver.status.history == [], "waiting for a promote never hits the progress deadline"
    driver.send("promote")
    driver.step()
    assert driver.service("active") == V2


@pytest.mark.parametrize("auto", [True, False])
def test_pre_promotion_analysis_gates_the_switch(auto: bool) -> None:
    driver = new_driver(
        blue_green_spec(prePromotionAnalysis=["error-rate"], autoPromotionEnabled=auto, autoPromotionSeconds=10),
        analysis=steps_wait,
    )
    driver.step()
    if not auto:
        driver.send("promote")  # approval does not skip the analysis
    driver.run(60)
    assert driver.service("active") == V1
    assert driver.service("preview") == V2
    assert driver.status.message == "pre-promotion analysis running on the preview"
    driver.analysis = steps_pass
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V2


def test_post_promotion_analysis_keeps_the_old_version_ready_to_switch_back() -> None:
    driver = new_driver(blue_green_spec(postPromotionAnalysis=["error-rate"]), analysis=steps_wait)
    driver.run_until(lambda d: d.service("active") == V2)
    driver.run(20)
    assert driver.status.phase == "Promoting"
    assert driver.status.message == "post-promotion analysis running"
    assert driver.status.stable_version == V1
    assert driver.cluster.ready(V1) == 2
    assert driver.service("preview") == V2
    driver.step(AnalysisSummary(critical_failure="latency: 3.1x baseline"))
    assert driver.service("active") == V1
    assert driver.service("preview") == V1
    assert driver.status.phase == "RolledBack"


@pytest.mark.parametrize(
    ("analysis_seconds", "delay"),
    [(0, 30), (20, 30), (60, 30), (10, 0)],
)
def test_old_version_scales_down_a_delay_after_the_switch(analysis_seconds: int, delay: int) -> None:
    post: dict[str, Any] = {"postPromotionAnalysis": ["error-rate"]} if analysis_seconds else {}
    driver = new_driver(blue_green_spec(scaleDownDelaySeconds=delay, **post), analysis=steps_wait)
    driver.run_until(lambda d: d.service("active") == V2)
    switched = pass_time(driver)
    driver.run_until(lambda d: pass_time(d) >= switched + analysis_seconds, max_passes=50)
    driver.analysis = steps_pass
    driver.run_until(lambda d: d.cluster.replicas(V1) == 0)
    scaled = pass_time(driver)
    assert scaled >= switched + delay
    assert scaled <= max(switched + delay, switched + analysis_seconds) + 2 * driver.tick
    assert driver.status.phase == "Healthy"
    assert driver.cluster.stage(V1) == "deprecated"


def test_promote_full_skips_pre_and_post_promotion_analysis() -> None:
    driver = new_driver(
        blue_green_spec(prePromotionAnalysis=["error-rate"], postPromotionAnalysis=["latency"]),
        analysis=steps_wait,
    )
    driver.run(5)
    driver.send("promote-full")
    driver.step()
    assert driver.status.phase == "Healthy"
    assert driver.status.history[-1].reason == "promoted with --full"


def test_candidate_pod_lost_before_the_switch_takes_the_preview_back() -> None:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.cluster.make_unready(V2)
    driver.step()
    assert driver.service("preview") == V1
    assert driver.status.phase == "Progressing"


def test_candidate_losing_every_ready_pod_after_the_switch_switches_back() -> None:
    driver = new_driver(blue_green_spec(postPromotionAnalysis=["error-rate"]), analysis=steps_wait)
    driver.run_until(lambda d: d.status.phase == "Promoting")
    driver.cluster.make_unready(V2)  # a crash loop: no analysis data will come either
    decision = driver.step()
    assert driver.service("active") == V1
    assert driver.status.phase == "RolledBack"
    assert driver.status.history[-1].reason == f"{V2} has no ready pod after the switch"
    assert any(a for a in decision.actions if getattr(a, "reason", "") == "RolledBack")
