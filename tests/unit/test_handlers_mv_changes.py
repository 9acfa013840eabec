"""Performance-figure patches of a ModelVersion wake nothing; spec and stage changes do."""

from __future__ import annotations

from modelrollout.handlers.mv_changes import ModelVersionChanges, Relevance


def body(parent: str | None = None, stage: str = "staging", performance: float | None = None) -> dict[str, object]:
    status: dict[str, object] = {"stage": stage}
    if performance is not None:
        status["performance"] = {"errorRate": performance}
    return {"spec": {"model": "m", "version": "1.0.0", "parent": parent}, "status": status}


def test_only_what_lineage_and_rollouts_read_counts() -> None:
    changes = ModelVersionChanges()
    assert changes.observe("ADDED", "ns", "v1", body()) == Relevance(lineage=True, rollouts=True)
    assert changes.observe("MODIFIED", "ns", "v1", body(performance=0.01)) == Relevance(False, False)
    assert changes.observe("MODIFIED", "ns", "v1", body(performance=0.02)) == Relevance(False, False)
    assert changes.observe("MODIFIED", "ns", "v1", body(stage="production", performance=0.02)) == Relevance(
        lineage=False, rollouts=True
    )
    assert changes.observe("MODIFIED", "ns", "v1", body(parent="v0", stage="production")) == Relevance(True, True)
    assert changes.observe("DELETED", "ns", "v1", body()) == Relevance(True, True)
    # After a deletion (or an operator restart) the first event counts in full.
    assert changes.observe("ADDED", "ns", "v1", body()) == Relevance(True, True)
    assert changes.observe("MODIFIED", "other", "v1", body()) == Relevance(True, True)
