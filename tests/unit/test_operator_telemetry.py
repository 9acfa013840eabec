"""The operator's metrics and notifications as functions of a pass's before/after status and actions."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from modelrollout.adapters.webhook import DeliveryError, deliver
from modelrollout.api.common import Condition
from modelrollout.api.rollout import AnalysisStatus, HistoryEntry, Measurement, RolloutSpec, RolloutStatus
from modelrollout.api.settings import OperatorSettings
from modelrollout.core.actions import EmitEvent
from modelrollout.core.connections import subscription_problems
from modelrollout.handlers.notify import Notifier, notifications_for
from modelrollout.handlers.telemetry import OperatorMetrics, new_history

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SPEC = RolloutSpec.model_validate(
    {"model": "sa", "targetVersion": "sa-2", "strategy": {"canary": {"steps": [{"setWeight": 50}]}}}
)


def condition(type_: str, status: str, reason: str, message: str = "") -> Condition:
    return Condition(
        type=type_, status=status, reason=reason, message=message, last_transition_time="2026-11-28T04:00:00Z"
    )


def measurement(metric: str, verdict: str, at: str, value: float = 0.01) -> Measurement:
    return Measurement(metric=metric, version="sa-2", value=value, baseline=0.02, verdict=verdict, at=at)


def paused(**changes: Any) -> RolloutStatus:
    status = RolloutStatus(
        phase="Paused",
        stable_version="sa-1",
        candidate_version="sa-2",
        current_step=1,
        canary_weight=50,
        analysis=AnalysisStatus(measurements=[measurement("error-rate", "pass", "2026-11-28T03:59:00Z")]),
    )
    return status.model_copy(update=changes)


def sample(metrics: OperatorMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_gauges_show_phase_weight_and_last_measurements() -> None:
    metrics = OperatorMetrics()
    after = paused(
        analysis=AnalysisStatus(
            measurements=[
                measurement("error-rate", "pass", "2026-11-28T03:59:00Z", 0.02),
                measurement("error-rate", "inconclusive", "2026-11-28T04:00:00Z", 0.03),
                Measurement(
                    metric="latency-p95",
                    version="sa-2",
                    value=0.2,
                    samples=380,
                    lower=0.18,
                    upper=0.23,
                    verdict="collecting",
                    at="2026-11-28T04:00:00Z",
                ),
            ]
        )
    )
    metrics.record("ns", "sa", SPEC, paused(), after, [])
    labels = {"namespace": "ns", "rollout": "sa"}
    assert sample(metrics, "modelrollout_rollout_phase", **labels, phase="Paused") == 1.0
    assert sample(metrics, "modelrollout_rollout_phase", **labels, phase="Healthy") == 0.0
    assert sample(metrics, "modelrollout_rollouts", phase="Paused") == 1.0
    assert sample(metrics, "modelrollout_canary_weight", **labels) == 50.0
    metric = {**labels, "metric": "error-rate", "version": "sa-2"}
    assert sample(metrics, "modelrollout_analysis_value", **metric) == 0.03  # the newest one
    assert sample(metrics, "modelrollout_analysis_verdict", **metric, verdict="inconclusive") == 1.0
    latency = {**labels, "metric": "latency-p95", "version": "sa-2"}
    assert sample(metrics, "modelrollout_analysis_verdict", **latency, verdict="collecting") == 1.0
    assert sample(metrics, "modelrollout_analysis_interval_lower", **latency) == 0.18
    assert sample(metrics, "modelrollout_analysis_interval_upper", **latency) == 0.23
    assert sample(metrics, "modelrollout_analysis_samples", **latency) == 380
    assert (
        sample(metrics, "modelrollout_analysis_verdicts_total", **labels, metric="error-rate", verdict="inconclusive")
        == 1.0
    )
    # The measurement already in `before` is not counted again.
    assert (
        sample(metrics, "modelrollout_analysis_verdicts_total", **labels, metric="error-rate", verdict="pass") is None
    )
    text = generate_latest(metrics.registry).decode()
    info = 'candidate_version="sa-2",namespace="ns",rollout="sa",stable_version="sa-1",strategy="canary"'
    assert f"modelrollout_rollout_info{{{info}}} 1.0" in text

    metrics.forget("ns", "sa")
    assert sample(metrics, "modelrollout_canary_weight", **labels) is None
    assert sample(metrics, "modelrollout_rollouts", phase="Paused") == 0.0


def test_promotions_and_rollbacks_are_counted_once_by_reason() -> None:
    metrics = OperatorMetrics()
    promoted = HistoryEntry(version="sa-2", outcome="Promoted", reason="all steps and analysis passed", at="t1")
    rolled_back = HistoryEntry(version="sa-3", outcome="RolledBack", reason="error-rate: 0.09 > 0.05", at="t2")
    healthy = RolloutStatus(phase="Healthy", stable_version="sa-2", history=[promoted])
    metrics.record("ns", "sa", SPEC, paused(), healthy, [EmitEvent("Normal", "Promoted", "sa-2 is stable")])
    metrics.record("ns", "sa", SPEC, healthy, healthy, [])  # a pass that changed nothing
    failed = RolloutStatus(
        phase="RolledBack",
        history=[promoted, rolled_back],
        conditions=[condition("AnalysisFailed", "True", "CriticalMetricFailed")],
    )
    metrics.record("ns", "sa", SPEC, healthy, failed, [EmitEvent("Warning", "RolledBack", "sa-3: error-rate")])
    labels = {"namespace": "ns", "rollout": "sa"}
    assert sample(metrics, "modelrollout_promotions_total", **labels, reason="AnalysisPassed") == 1.0
    assert (
        sample(metrics, "modelrollout_rollbacks_total", **labels, outcome="RolledBack", reason="CriticalMetricFailed")
        == 1.0
    )
    assert sample(metrics, "modelrollout_decisions_total", **labels, reason="Promoted") == 1.0


def test_new_history_survives_trimming() -> None:
    entries = [HistoryEntry(version=f"v{i}", outcome="Promoted", at=f"t{i}") for i in range(5)]
    before = RolloutStatus(history=entries[:3])
    after = RolloutStatus(history=entries[1:5])  # oldest trimmed, two appended
    assert [e.version for e in new_history(before, after)] == ["v3", "v4"]
    assert new_history(after, after) == []


def test_notifications_for_decisions_users_care_about() -> None:
    before = paused()
    rolled_back = RolloutStatus(phase="RolledBack", stable_version="sa-1")
    found = notifications_for(
        "ns", "sa", before, rolled_back, [EmitEvent("Warning", "Aborted", "sa-2: aborted by user")], NOW
    )
    assert [(n.trigger, n.reason, n.candidate) for n in found] == [("RolledBack", "Aborted", "sa-2")]
    body = found[0].body()
    assert body["text"] == ":rotating_light: ns/sa: RolledBack (Aborted) sa-2: aborted by user"
    assert body["at"] == "2026-11-28T04:00:00Z"

    no_data = paused(conditions=[condition("Paused", "True", "InconclusiveAnalysis", "no data")])
    found = notifications_for(
        "ns", "sa", paused(phase="Progressing"), no_data, [EmitEvent("Warning", "Paused", "no data")], NOW
    )
    assert [n.trigger for n in found] == ["PausedNoData"]
    by_user = paused(conditions=[condition("Paused", "True", "PausedByUser")])
    assert (
        notifications_for("ns", "sa", paused(), by_user, [EmitEvent("Normal", "Paused", "paused by user")], NOW) == []
    )

    warning = paused(conditions=[condition("MetricWarning", "True", "WarningMetricFailed", "cost 2.4x")])
    assert [n.trigger for n in notifications_for("ns", "sa", paused(), warning, [], NOW)] == ["AnalysisWarning"]
    assert notifications_for("ns", "sa", warning, warning, [], NOW) == []  # only when it starts


class Hook:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.done = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.bodies.append(body)
                    hook.headers.append(dict(self.headers))
                    hook.done.set()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook([503, 500])
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_deliver_retries_server_errors_and_gives_up_on_refusals(hook: Hook) -> None:
    waits: list[float] = []
    assert deliver(hook.url, {"text": "hi"}, {}, first_delay=0.5, sleep=waits.append) == 3
    assert waits == [0.5, 1.0]
    hook.statuses[:] = [404]
    with pytest.raises(DeliveryError, match="HTTP 404"):
        deliver(hook.url, {"text": "hi"}, {}, sleep=waits.append)
    with pytest.raises(DeliveryError, match="after 2 attempts"):
        deliver("http://127.0.0.1:1/nothing", {}, {}, attempts=2, first_delay=0, sleep=waits.append)


class Secrets:
    """Secret values by (namespace, name, key): the one KubeGateway call the Notifier makes."""

    def __init__(self, values: dict[tuple[str, str, str], str]) -> None:
        self.values = values
        self.reads: list[tuple[str, str, str]] = []

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        self.reads.append((namespace, name, key))
        return self.values.get((namespace, name, key))


def test_notifier_sends_the_installers_webhooks_with_secrets_from_the_operators_namespace(hook: Hook) -> None:
    hook.statuses[:] = []
    settings = OperatorSettings.model_validate(
        {
            "namespace": "ops",
            "notifications": [
                {"name": "global", "urlSecretRef": {"name": "hook", "key": "url"}, "namespaces": ["ns"]},
                {"name": "elsewhere", "url": hook.url, "namespaces": ["other"]},
                {
                    "name": "team",
                    "url": hook.url,
                    "authorizationSecretRef": {"name": "team-token", "key": "token"},
                    "subscribersOnly": True,
                },
                {"name": "unsubscribed", "url": hook.url, "subscribersOnly": True},
            ],
        }
    )
    subscription = {"webhook": "team", "triggers": ["Promoted"]}
    spec = RolloutSpec.model_validate(
        {**SPEC.model_dump(by_alias=True, exclude_none=True), "notifications": {"webhooks": [subscription]}}
    )
    secrets = Secrets({("ops", "hook", "url"): hook.url, ("ops", "team-token", "token"): "Bearer team"})
    metrics = OperatorMetrics()
    notifier = Notifier(secrets, settings, metrics, first_delay=0.01)  # type: ignore[arg-type]
    assert [t.webhook.name for t in notifier.targets("ns", spec)] == ["global", "team"]
    healthy = RolloutStatus(phase="Healthy", stable_version="sa-2")
    notifier("ns", "sa", spec, paused(), healthy, [EmitEvent("Normal", "Promoted", "sa-2 is stable")], NOW)
    notifier.executor.shutdown(wait=True)
    # Every Secret is read in the operator's namespace, whatever the Rollout's.
    assert sorted(secrets.reads) == [("ops", "hook", "url"), ("ops", "team-token", "token")]
    assert len(hook.bodies) == 2 and {b["trigger"] for b in hook.bodies} == {"Promoted"}
    assert sorted(h.get("Authorization", "-") for h in hook.headers) == ["-", "Bearer team"]
    assert (
        metrics.registry.get_sample_value("modelrollout_notifications_total", {"webhook": "team", "result": "sent"})
        == 1.0
    )


def test_a_rollout_subscribes_by_name_and_cannot_carry_a_url_or_a_secret() -> None:
    settings = OperatorSettings.model_validate(
        {"notifications": [{"name": "team-b", "url": "http://hooks:8080/b", "namespaces": ["team-b"]}]}
    )
    base = SPEC.model_dump(by_alias=True, exclude_none=True)
    for forbidden in (
        {"name": "steal", "url": "http://attacker.example/"},
        {"webhook": "team-b", "authorizationSecretRef": {"name": "admin-token", "key": "token"}},
    ):
        with pytest.raises(ValueError):
            RolloutSpec.model_validate({**base, "notifications": {"webhooks": [forbidden]}})

    def problems(name: str, namespace: str) -> list[str]:
        spec = RolloutSpec.model_validate({**base, "notifications": {"webhooks": [{"webhook": name}]}})
        return subscription_problems(spec, settings, namespace)

    assert problems("team-b", "team-b") == []
    [missing] = problems("nope", "team-b")
    assert "no webhook named 'nope'" in missing and "available here: team-b" in missing
    [foreign] = problems("team-b", "team-a")
    assert "not available to namespace team-a" in foreign and "hooks:8080" not in foreign


def test_dashboard_queries_only_series_the_operator_exports() -> None:
    dashboard = json.loads((ROOT / "charts" / "modelrollout" / "dashboards" / "modelrollout.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    used = {name for query in queries for name in re.findall(r"\bmodelrollout_[a-z_]+", query)}
    metrics = OperatorMetrics()
    metrics.record("ns", "sa", SPEC, RolloutStatus(), paused(), [EmitEvent("Normal", "Paused", "held")])
    metrics.reconcile_seconds.labels("ok").observe(0.1)
    exported = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    exported |= {family.name + "_total" for family in metrics.registry.collect() if family.type == "counter"}
    assert used and used <= exported, used - exported
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${datasource}"}
