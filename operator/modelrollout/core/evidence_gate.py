"""What a step that keeps collecting evidence past spec.analysis.undecidedAfter does.

Collecting evidence is not missing data (onNoData does not apply) and never a pass: past the bound
the Rollout's onUndecided policy either pauses it with a condition (it resumes by itself once the
evidence decides) or rolls it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrollout.api.rollout import AnalysisSpec
from modelrollout.core.analysis_contract import AnalysisSummary


@dataclass(frozen=True)
class UndecidedGate:
    """The policy to apply now: roll back, or hold with `message` (condition reason UNDECIDED_ANALYSIS)."""

    rollback: bool
    message: str


def undecided_gate(analysis: AnalysisSpec | None, summary: AnalysisSummary, promote_full: bool) -> UndecidedGate | None:
    """The gate for this pass, or None when the step is decided or still within its bound."""
    if analysis is None or summary.undecided is None or promote_full:
        return None
    if analysis.on_undecided == "rollback":
        return UndecidedGate(rollback=True, message=f"onUndecided is rollback; {summary.undecided}")
    return UndecidedGate(rollback=False, message=f"analysis {summary.undecided}")
