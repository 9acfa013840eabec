"""The A/B test part of the status view: the decision, then per metric each variant and each comparison."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

_SIDE_STYLE = {"better": "green", "worse": "red"}


def _interval(values: list[float]) -> str:
    return f"[{values[0]:.4g}, {values[1]:.4g}]" if len(values) == 2 else "-"


def ab_test_view(status: dict[str, Any]) -> Group | None:
    """None when the Rollout has no A/B test."""
    ab = status.get("abTest")
    if not ab:
        return None
    decision = ab.get("decision") or "collecting"
    headline = Text(f"A/B test: {decision}")
    if ab.get("confidence"):
        headline.append(f" (confidence {ab['confidence']})")
    if ab.get("winner"):
        headline.append(f", winner {ab['winner']}")
    lines: list[Any] = [headline]
    if ab.get("reason"):
        lines.append(Text(ab["reason"]))
    for metric in ab.get("metrics", []):
        role = "guardrail, " if metric.get("guardrail") else ""
        table = Table(
            "Version",
            "Samples",
            "Mean",
            "Interval",
            "Effect",
            "Interval",
            "p",
            "",
            title=f"{metric['metric']} ({role}{metric['better']} is better)",
        )
        comparisons = {c["version"]: c for c in metric.get("comparisons", [])}
        for estimate in metric.get("estimates", []):
            comparison = comparisons.get(estimate["version"])
            mean = estimate.get("mean")
            row = [estimate["version"], f"{estimate.get('samples', 0):,.0f}", "-" if mean is None else f"{mean:.4g}"]
            row.append(_interval(estimate.get("ci", [])))
            if comparison is None:
                row += ["control" if estimate["version"] == ab.get("control") else "-", "", "", ""]
            else:
                side = comparison.get("significant") or ""
                row += [
                    f"{comparison['effect']:+.4g}",
                    _interval(comparison.get("ci", [])),
                    f"{comparison['pValue']:.3g}",
                    Text(side, style=_SIDE_STYLE.get(side, "")),
                ]
            table.add_row(*row)
        lines.append(table)
        if metric.get("needs"):
            lines.append(Text(metric["needs"]))
    for removal in ab.get("removed", []):
        lines.append(Text(f"removed {removal['version']}: {removal['reason']}", style="red"))
    return Group(*lines)
