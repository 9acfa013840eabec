"""Condition types and reasons the core writes, named once (Kubernetes API conventions).

Tests, the CLI and users' alerting match on these strings, so they change only with the API.
"""

from __future__ import annotations

from typing import Final

# ------------------------------------------------------------- condition types

AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
PAUSED: Final = "Paused"
COMPLETED: Final = "Completed"
INVALID_SPEC: Final = "InvalidSpec"
ANALYSIS_FAILED: Final = "AnalysisFailed"
METRIC_WARNING: Final = "MetricWarning"
TRAFFIC_ROUTING: Final = "TrafficRouting"
ACTION_FAILED: Final = "ActionFailed"
# After a rollback: whether the stable version carries every request with the capacity asked for.
STABLE_CAPACITY: Final = "StableCapacity"
# The candidate's ModelVersion was rejected by another Rollout mid-rollout (core/shared.py); False
# once this Rollout's own verdict is in, with that outcome (Promoted, RolledBack, ...) as reason.
FOREIGN_REJECTION: Final = "ForeignRejection"

# ------------------------------------------------------------- reasons

# InvalidSpec
SPEC_INVALID: Final = "InvalidSpec"
SPEC_VALID: Final = "SpecValid"

# Available
REPLICAS_READY: Final = "ReplicasReady"
MINIMUM_REPLICAS_READY: Final = "MinimumReplicasReady"
NO_READY_REPLICAS: Final = "NoReadyReplicas"

# Progressing
INITIALIZING: Final = "Initializing"
PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
ROLLOUT_IN_PROGRESS: Final = "RolloutInProgress"
NO_ROLLOUT_IN_PROGRESS: Final = "NoRolloutInProgress"
STRATEGY_NOT_SUPPORTED: Final = "StrategyNotSupported"

# Paused
NOT_PAUSED: Final = "NotPaused"
PAUSED_BY_USER: Final = "PausedByUser"
CANARY_PAUSE_STEP: Final = "CanaryPauseStep"
BLUE_GREEN_PAUSE: Final = "BlueGreenPause"
INCONCLUSIVE_ANALYSIS: Final = "InconclusiveAnalysis"
EMERGENCY_STOP: Final = "EmergencyStop"
# A step still collecting evidence past spec.analysis.undecidedAfter (Paused, or AnalysisFailed on rollback).
UNDECIDED_ANALYSIS: Final = "UndecidedAnalysis"

# Completed
ROLLOUT_COMPLETED: Final = "RolloutCompleted"

# AnalysisFailed
CRITICAL_METRIC_FAILED: Final = "CriticalMetricFailed"
NO_CRITICAL_FAILURE: Final = "NoCriticalFailure"

# MetricWarning
WARNING_METRIC_FAILED: Final = "WarningMetricFailed"
NO_WARNINGS: Final = "NoWarnings"

# TrafficRouting (routers with a route object of their own: gatewayAPI, userHash)
ROUTE_READY: Final = "RouteReady"
ROUTE_NOT_USABLE: Final = "RouteNotUsable"

# A/B tests (Progressing / Paused)
AB_TEST_RUNNING: Final = "ABTestRunning"
AB_TEST_DECIDED: Final = "ABTestDecided"
AB_TEST_CONCLUDED: Final = "ABTestConcluded"
AB_CONTROL_MISSING: Final = "ABTestControlMissing"
# StableCapacity (spec.rollbackPolicy); WaitingForStableCapacity and TrafficReturned are also Events
STABLE_CAPACITY_READY: Final = "StableCapacityReady"
WAITING_FOR_STABLE_CAPACITY: Final = "WaitingForStableCapacity"
STABLE_CAPACITY_SHORT: Final = "StableCapacityShort"
TRAFFIC_RETURNED: Final = "TrafficReturned"

# ForeignRejection; OwnVerdict is the Event when this Rollout's verdict is in
REJECTED_BY_OTHER_ROLLOUT: Final = "RejectedByOtherRollout"
OWN_VERDICT: Final = "OwnVerdict"

# Completed (besides RolloutInProgress / RolloutCompleted): why the target is not serving
ROLLED_BACK: Final = "RolledBack"

# ActionFailed
API_ERROR: Final = "ApiError"
ACTIONS_APPLIED: Final = "ActionsApplied"
