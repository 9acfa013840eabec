"""Rich rendering of a Rollout's status for humans."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from modelrollout.cli.abview import ab_test_view


def transition_line(rollout: dict[str, Any]) -> str:
    """One line describing where a rollout is; printed whenever it changes."""
    status = rollout.get("status") or {}
    parts = [
        f"phase={status.get('phase', '-')}",
        f"stable={status.get('stableVersion', '-')}",
        f"candidate={status.get('candidateVersion') or '-'}",
        f"step={status.get('currentStep', '-') if status.get('currentStep') is not None else '-'}",
        f"weight={status.get('canaryWeight', 0)}%",
    ]
    message = status.get("message")
    return " ".join(parts) + (f"  {message}" if message else "")


def _number(value: object) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _interval(measurement: dict[str, Any]) -> str:
    lower, upper = measurement.get("lower"), measurement.get("upper")
    if lower is None and upper is None:
        return "-"
    return f"{_number(lower)} .. {'unbounded' if upper is None else _number(upper)}"


def status_view(rollout: dict[str, Any]) -> Group:
    status = rollout.get("status") or {}
    meta = rollout["metadata"]
    summary = Table.grid(padding=(0, 2))
    summary.add_row("Rollout", f"{meta['namespace']}/{meta['name']}")
    for label, key in (
        ("Phase", "phase"),
        ("Stable", "stableVersion"),
        ("Candidate", "candidateVersion"),
        ("Step", "currentStep"),
        ("Weight", "canaryWeight"),
        ("Message", "message"),
    ):
        value = status.get(key)
        summary.add_row(label, "-" if value is None else str(value))
    conditions = Table("Condition", "Status", "Reason", "Message", title="Conditions")
    for condition in status.get("conditions", []):
        conditions.add_row(condition["type"], condition["status"], condition["reason"], condition.get("message", ""))
    measurements = Table("Metric", "Value", "n", "Interval", "Baseline", "Verdict", "At", title="Measurements")
    reasons = Table("Metric", "Why", title="Latest verdicts in words")
    latest: dict[str, str] = {}
    for m in (status.get("analysis") or {}).get("measurements", [])[-10:]:
        verdict = Text(m["verdict"], style={"pass": "green", "fail": "red"}.get(m["verdict"], "yellow"))
        measurements.add_row(
            m["metric"],
            _number(m.get("value")),
            str(m.get("samples", "-")),
            _interval(m),
            _number(m.get("baseline")),
            verdict,
            m["at"],
        )
        latest[m["metric"]] = m.get("message", "")
    for metric, message in latest.items():
        reasons.add_row(metric, message)
    history = Table("Version", "Outcome", "Reason", "At", title="History")
    for entry in status.get("history", [])[-10:]:
        history.add_row(entry["version"], entry["outcome"], entry.get("reason", ""), entry["at"])
    ab_test = ab_test_view(status)
    return Group(summary, conditions, measurements, reasons, *([ab_test] if ab_test else []), history)
