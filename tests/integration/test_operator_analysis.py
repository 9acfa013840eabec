"""Prometheus analysis end to end: the real operator on the real control plane, a real Prometheus
scraping simulated model servers (one simulator per version, labelled as a PodMonitor would).

Analysis runs every 2 s over a 10 s rate window; Prometheus scrapes every second. Nothing here
asserts on wall-clock time: waits poll against deadlines, and the rollback latency is printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rollouts import Cluster, bluegreen_rollout, canary_rollout, model_version

from modelrollout.devenv import LocalPrometheus, wait_until
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet, SimulatorProcess

STABLE, CANDIDATE = "2.3.1", "2.4.0"  # version label values (the slugs of the semvers)
INTERVAL_SECONDS = 2.0
# Healthy models: 40 requests/s keeps a 0.5 % error rate far from the 5 % threshold even in a
# window that holds only a few seconds of samples.
HEALTHY: dict[str, float] = {"error_rate": 0.005, "latency_ms": 120.0, "cost_per_request": 0.002, "rps": 40.0}

ERROR_RATE = {"name": "error-rate", "preset": "errorRate"}
LATENCY_P95 = {"name": "latency-p95", "preset": "latencyP95"}
COST = {"name": "cost-per-request", "preset": "costPerRequest"}
HALLUCINATION_RATE = {"name": "hallucination-rate", "preset": "hallucinationRate"}
CHECKS = ["error-rate", "latency-p95"]


def analysis(prometheus: LocalPrometheus, *metrics: dict[str, Any], on_no_data: str = "pause") -> dict[str, Any]:
    return {
        "interval": f"{INTERVAL_SECONDS:g}s",
        "window": "10s",
        "onNoData": on_no_data,
        "metrics": list(metrics),
    }


def names(rollout: str) -> tuple[str, str]:
    """ModelVersion names of the stable and candidate versions of `rollout`."""
    return f"{rollout}-2-3-1", f"{rollout}-2-4-0"


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def has_condition(type_: str, value: str, reason: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        found = condition(status, type_)
        return found.get("status") == value and (reason is None or found.get("reason") == reason)

    return check


def start_sim(
    simulators: SimulatorFleet, kube: Cluster, rollout: str, version: str, **params: float
) -> SimulatorProcess:
    return simulators.start(rollout, version, namespace=kube.namespace, **{**HEALTHY, **params})


def wait_scraped(prometheus: LocalPrometheus, *sims: SimulatorProcess) -> None:
    """Until Prometheus holds three scrapes of every simulator: a rate() needs two samples in its window."""
    for sim in sims:
        labels = ",".join(f'{key}="{value}"' for key, value in sim.labels.items())
        query = f'count_over_time(model_requests_total{{{labels},outcome="success"}}[1m])'
        wait_until(
            lambda query=query: (prometheus.query_scalar(query) or 0) >= 3,
            timeout=30,
            what=f"three scrapes of {sim.address}",
            interval=0.2,
        )


def deploy_stable(kube: Cluster, rollout: dict[str, Any], model: str = "support-agent") -> None:
    """Both ModelVersions, and the Rollout serving the stable one."""
    name = rollout["metadata"]["name"]
    stable, candidate = names(name)
    kube.create(model_version(stable, STABLE, model=model))
    kube.create(model_version(candidate, CANDIDATE, model=model))
    rollout["spec"]["targetVersion"] = stable
    rollout["spec"]["model"] = model
    kube.create(rollout)
    kube.wait_status(name, f"{stable} healthy", lambda s: s.get("phase") == "Healthy", timeout=60)


def healthy_sims(simulators: SimulatorFleet, kube: Cluster) -> tuple[SimulatorProcess, SimulatorProcess]:
    """Healthy simulators for the stable and the candidate version of rollout `sa`."""
    return start_sim(simulators, kube, "sa", STABLE), start_sim(simulators, kube, "sa", CANDIDATE)


def serve_stable(
    kube: Cluster, prometheus: LocalPrometheus, rollout: dict[str, Any], *sims: SimulatorProcess
) -> tuple[str, str]:
    """The stable version serving and Prometheus holding data of every simulator; the version names."""
    deploy_stable(kube, rollout)
    wait_scraped(prometheus, *sims)
    return names(rollout["metadata"]["name"])


def measurements(status: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    return [m for m in (status.get("analysis") or {}).get("measurements", []) if m["metric"] == metric]


def tally(status: dict[str, Any], metric: str) -> dict[str, Any]:
    tallies = (status.get("analysis") or {}).get("tallies", [])
    return next((t for t in tallies if t["metric"] == metric), {})


def assert_rolled_back(kube: Cluster, rollout: str, reason: str) -> dict[str, Any]:
    """RolledBack for `reason`, stable Service on the stable version, candidate rejected, scaled to 0."""
    stable, candidate = names(rollout)
    status = kube.wait_status(rollout, "rolled back", lambda s: s.get("phase") == "RolledBack")
    assert status["stableVersion"] == stable
    assert status.get("candidateVersion") is None
    assert status["history"][-1]["version"] == candidate
    assert status["history"][-1]["outcome"] == "RolledBack"
    assert re.search(reason, status["history"][-1]["reason"]), status["history"][-1]
    # Traffic leaves the candidate once the stable side's ready pods can carry it (rollbackPolicy):
    # the phase says RolledBack from the decision on, the Service follows the stable pods' readiness.
    wait_selected(kube, rollout, STABLE, "stable Service back on the stable version")
    assert kube.model_version_status(candidate)["stage"] == "rejected"
    assert re.search(reason, kube.model_version_status(candidate)["history"][-1]["reason"])
    assert kube.model_version_status(stable)["stage"] == "production"
    kube.wait(
        lambda: kube.replicas(rollout) == {STABLE: (4, 4), CANDIDATE: (0, 0)} or None,
        "candidate scaled down, stable at full size",
    )
    assert any(event.startswith(f"RolledBack: {candidate}") for event in kube.events(rollout))
    return status


def wait_selected(kube: Cluster, service: str, version: str, what: str, timeout: float = 60) -> float:
    """Polls the Service every 50 ms until it selects only `version`; returns the seconds it took."""
    start = time.monotonic()
    wait_until(lambda: kube.selected_version(service) == version or None, timeout=timeout, what=what, interval=0.05)
    return time.monotonic() - start


# ---------------------------------------------------------------------------------- canary


def test_healthy_canary_with_analysis_steps_is_promoted(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    steps = [
        {"setWeight": 25},
        {"analysis": {"metrics": CHECKS}},
        {"setWeight": 50},
        {"analysis": {"metrics": CHECKS}},
    ]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, ERROR_RATE, LATENCY_P95))
    stable, candidate = serve_stable(kube, prometheus, rollout, *healthy_sims(simulators, kube))

    kube.set_target("sa", candidate)
    status = kube.wait_status(
        "sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == candidate, timeout=90
    )

    assert kube.selected_version("sa") == CANDIDATE
    assert status["history"][-1]["outcome"] == "Promoted"
    assert kube.model_version_status(candidate)["stage"] == "production"
    assert kube.model_version_status(stable)["stage"] == "deprecated"
    assert condition(status, "AnalysisFailed").get("status") != "True"
    # Both analysis steps passed on real measurements of the candidate, within the thresholds.
    events = kube.events("sa")
    assert any(re.match(r"StepCompleted: step 2/4: analysis passed", e) for e in events), events
    assert any(re.match(r"StepCompleted: step 4/4: analysis passed", e) for e in events), events
    assert "AnalysisVerdict: error-rate: pass" in events
    assert not [e for e in events if e.startswith("RolledBack")], events
    if any(e.startswith("Paused") for e in events):  # a scrape gap on a starved machine: it paused, then went on
        print(f"\npaused on the way (then resumed by itself): {[e for e in events if e.startswith('Paused')]}")
    # Every decided measurement passed (a scrape gap would be inconclusive, too little evidence collecting,
    # never a pass or a fail), on an interval wholly within the threshold.
    errors = [m for m in measurements(status, "error-rate") if m["verdict"] in ("pass", "fail")]
    latencies = [m for m in measurements(status, "latency-p95") if m["verdict"] in ("pass", "fail")]
    assert errors and all(m["verdict"] == "pass" and m["upper"] <= 0.05 and m["samples"] > 0 for m in errors), errors
    assert latencies and all(m["verdict"] == "pass" and m["baseline"] > 0 for m in latencies), latencies
    assert tally(status, "error-rate")["measurements"] >= 2


def test_error_rate_spike_rolls_back_to_stable(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    steps = [{"setWeight": 25}, {"analysis": {"metrics": CHECKS}}, {"setWeight": 50}, {"pause": {}}]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, ERROR_RATE, LATENCY_P95))
    stable_sim, canary_sim = healthy_sims(simulators, kube)
    candidate = serve_stable(kube, prometheus, rollout, stable_sim, canary_sim)[1]

    kube.set_target("sa", candidate)
    kube.wait_status(
        "sa",
        "holding at weight 50 after a passed analysis step",
        lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 3 and s.get("canaryWeight") == 50,
        timeout=90,
    )
    assert kube.selected_version("sa") == "*"  # both versions serve behind the stable Service

    flipped = time.monotonic()
    canary_sim.set(error_rate=0.2)
    wait_selected(kube, "sa", STABLE, "stable Service back on the stable version")
    restored = time.monotonic() - flipped
    kube.wait(lambda: kube.replicas("sa") == {STABLE: (4, 4), CANDIDATE: (0, 0)} or None, "replicas back on stable")
    print(
        f"\nerror rate 20 % -> stable Service on {STABLE} after {restored:.2f}s, all replicas back on it after "
        f"{time.monotonic() - flipped:.2f}s (analysis interval {INTERVAL_SECONDS:g}s, window 10s, "
        f"scrape {prometheus.scrape_interval})"
    )

    status = assert_rolled_back(kube, "sa", r"error-rate=0\.\d+ .*(is above|rose past) max 0\.05")
    failed = condition(status, "AnalysisFailed")
    assert (failed["status"], failed["reason"]) == ("True", "CriticalMetricFailed")
    # Decided on evidence: an interval wholly above the max, or the change detector past its bound
    # (1/4 of the 1 % budget each: two critical metrics, and the detector gets half of a rate's share).
    failing = [m for m in measurements(status, "error-rate") if m["verdict"] == "fail"][-1]
    assert (failing.get("lower") or 0) > 0.05 or failing["eValue"] >= 2 / (0.01 / 2), failing
    assert status["canaryWeight"] == 0
    assert any("error-rate=" in e for e in kube.events("sa") if e.startswith("RolledBack"))
    # Rolled back means rolled back: the rejected target is not retried while the spec stays.
    assert kube.status("sa")["rejected"]["version"] == candidate


def test_latency_twice_the_baseline_rolls_back(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    steps = [{"setWeight": 25}, {"analysis": {"metrics": CHECKS}}, {"setWeight": 50}, {"pause": {}}]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, ERROR_RATE, LATENCY_P95))
    sims = (
        start_sim(simulators, kube, "sa", STABLE, latency_ms=120, latency_jitter_ms=30),
        start_sim(simulators, kube, "sa", CANDIDATE, latency_ms=240, latency_jitter_ms=60),
    )
    kube.set_target("sa", serve_stable(kube, prometheus, rollout, *sims)[1])
    status = assert_rolled_back(
        kube, "sa", r"latency-p95=\S+ is \S+x baseline \S+; ratio \S+ to \S+ \(.*\) is above maxRatioToBaseline 1\.5"
    )

    failed = condition(status, "AnalysisFailed")
    assert failed["status"] == "True"
    ratio = float(re.search(r"is (\S+)x baseline", failed["message"]).group(1))  # type: ignore[union-attr]
    assert ratio > 1.5
    latency = [m for m in measurements(status, "latency-p95") if m["verdict"] == "fail"][-1]
    assert latency["value"] > 1.5 * latency["baseline"]
    # The error rate was healthy: only latency failed.
    assert all(m["verdict"] != "fail" for m in measurements(status, "error-rate"))


def test_hallucination_rate_above_two_percent_rolls_back(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    steps = [{"setWeight": 25}, {"analysis": {"metrics": ["hallucination-rate"]}}, {"pause": {}}]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, HALLUCINATION_RATE))
    sim = start_sim(simulators, kube, "sa", CANDIDATE, error_rate=0, hallucination_rate=0.1)
    kube.set_target("sa", serve_stable(kube, prometheus, rollout, sim)[1])
    status = assert_rolled_back(kube, "sa", r"hallucination-rate=0\.\d+ .*(is above|rose past) max 0\.02")

    value = [m for m in measurements(status, "hallucination-rate") if m["verdict"] == "fail"][-1]["value"]
    assert 0.02 < value < 0.3  # model_hallucinations_total / model_requests_total of the simulator, ~0.1


def test_cost_three_times_the_baseline_only_warns(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    checks = ["error-rate", "cost-per-request"]
    steps = [{"setWeight": 25}, {"analysis": {"metrics": checks}}, {"setWeight": 50}, {"analysis": {"metrics": checks}}]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, ERROR_RATE, COST))
    sims = (
        start_sim(simulators, kube, "sa", STABLE, cost_per_request=0.002),
        start_sim(simulators, kube, "sa", CANDIDATE, cost_per_request=0.006),
    )
    candidate = serve_stable(kube, prometheus, rollout, *sims)[1]

    kube.set_target("sa", candidate)
    warned = kube.wait_status(
        "sa", "MetricWarning condition", has_condition("MetricWarning", "True", "WarningMetricFailed"), timeout=60
    )
    assert re.search(
        r"cost-per-request=\S+ is \S+x baseline \S+; point estimates, n=\d+/\d+ is above maxRatioToBaseline 2",
        condition(warned, "MetricWarning")["message"],
    )
    status = kube.wait_status(
        "sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == candidate, timeout=90
    )

    assert kube.selected_version("sa") == CANDIDATE
    assert status["history"][-1]["outcome"] == "Promoted"
    assert condition(status, "AnalysisFailed").get("status") != "True"
    events = kube.events("sa")
    assert "AnalysisVerdict: cost-per-request: fail" in events
    assert not [e for e in events if e.startswith("RolledBack")], events
    warning_events = kube.core.list_namespaced_event(
        kube.namespace, field_selector="involvedObject.name=sa,reason=AnalysisVerdict,type=Warning"
    ).items
    assert any("cost-per-request" in e.message for e in warning_events)
    costs = [m for m in measurements(status, "cost-per-request") if m["verdict"] == "fail"]
    assert costs and costs[-1]["value"] > 2 * costs[-1]["baseline"]


# ------------------------------------------------------------------------------- no data


@pytest.fixture
def prometheus_restored(prometheus: LocalPrometheus) -> Iterator[LocalPrometheus]:
    """The session Prometheus, running again after the test whatever happened in it."""
    try:
        yield prometheus
    finally:
        if not prometheus.running():
            prometheus.start()


def test_prometheus_outage_pauses_and_resumes_by_itself(
    kube: Cluster, operator: OperatorProcess, prometheus_restored: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    prometheus = prometheus_restored
    steps = [{"setWeight": 25}, {"pause": {}}, {"analysis": {"metrics": CHECKS}}]
    rollout = canary_rollout("sa", "", steps, analysis=analysis(prometheus, ERROR_RATE, LATENCY_P95))
    stable, candidate = serve_stable(kube, prometheus, rollout, *healthy_sims(simulators, kube))
    kube.set_target("sa", candidate)
    kube.wait_status(
        "sa",
        "pause step at weight 25, background analysis passing",
        lambda s: (
            has_condition("Paused", "True", "CanaryPauseStep")(s)
            and tally(s, "error-rate").get("lastVerdict") == "pass"
        ),
        timeout=60,
    )

    prometheus.stop()
    status = kube.wait_status(
        "sa", "paused: analysis inconclusive", has_condition("Paused", "True", "InconclusiveAnalysis"), timeout=30
    )
    paused = condition(status, "Paused")
    assert "cannot reach Prometheus" in paused["message"], paused
    assert status["phase"] == "Paused"
    assert "cannot reach Prometheus" in status["message"]
    # The user promotes past the pause step: the analysis step that follows cannot pass without data.
    kube.control("sa", "promote", "1")
    status = kube.wait_status("sa", "at the analysis step", lambda s: s.get("currentStep") == 2, timeout=30)
    seen = tally(status, "error-rate").get("inconclusive", 0)
    deadline = time.monotonic() + 60
    while tally(status, "error-rate").get("inconclusive", 0) < seen + 3:  # several analysis intervals
        assert time.monotonic() < deadline, f"no new measurements while Prometheus is down: {status}"
        assert status.get("phase") == "Paused", status
        assert (status.get("stableVersion"), status.get("candidateVersion")) == (stable, candidate), status
        assert status.get("currentStep") == 2, status
        time.sleep(0.2)
        status = kube.status("sa")
    assert kube.selected_version("sa") == "*"
    assert kube.model_version_status(candidate)["stage"] == "candidate"
    assert any(e.startswith("Paused: analysis inconclusive") for e in kube.events("sa"))

    prometheus.start()
    status = kube.wait_status(
        "sa", "promoted after Prometheus came back", lambda s: s.get("stableVersion") == candidate, timeout=60
    )
    assert status["phase"] == "Healthy"
    assert status["history"][-1]["outcome"] == "Promoted"
    assert kube.selected_version("sa") == CANDIDATE


def test_canary_without_traffic_is_inconclusive_and_follows_on_no_data(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    """Two rollouts side by side: `idle` (candidate serves no requests, onNoData pause) and `gone`
    (no metrics at all for the candidate, onNoData rollback)."""
    steps = [{"setWeight": 25}, {"analysis": {"metrics": ["error-rate"]}}]
    idle = canary_rollout("idle", "", steps, analysis=analysis(prometheus, ERROR_RATE))
    gone = canary_rollout("gone", "", steps, analysis=analysis(prometheus, ERROR_RATE, on_no_data="rollback"))
    idle_sim = start_sim(simulators, kube, "idle", CANDIDATE, rps=0)
    deploy_stable(kube, idle, model="idle-model")
    deploy_stable(kube, gone, model="gone-model")
    wait_scraped(prometheus, idle_sim)

    kube.set_target("idle", names("idle")[1])
    kube.set_target("gone", names("gone")[1])

    status = kube.wait_status(
        "idle", "paused: no traffic", has_condition("Paused", "True", "InconclusiveAnalysis"), timeout=60
    )
    assert status["phase"] == "Paused"
    # An idle server has either no request series yet or zero requests in range: both are no evidence.
    assert re.search("no traffic|no data", condition(status, "Paused")["message"]), condition(status, "Paused")
    assert any(e.startswith("Paused: analysis inconclusive") for e in kube.events("idle"))
    # Still paused, never promoted, after further inconclusive measurements.
    status = kube.wait_status(
        "idle", "more inconclusive measurements", lambda s: tally(s, "error-rate").get("inconclusive", 0) >= 3
    )
    assert (status["phase"], status["stableVersion"]) == ("Paused", names("idle")[0])
    assert all(m["verdict"] == "inconclusive" for m in measurements(status, "error-rate"))

    status = assert_rolled_back(kube, "gone", r"no data: error-rate: no data")
    assert "no data" in status["message"]


# ------------------------------------------------------------------------------ blue-green


def test_bluegreen_post_promotion_failure_switches_back(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    # count 10: the post-promotion analysis needs ~20 s of passing measurements, ample time to break it.
    rollout = bluegreen_rollout("sa", "", replicas=2, autoPromotionSeconds=0, postPromotionAnalysis=["error-rate"])
    rollout["spec"]["analysis"] = analysis(prometheus, {**ERROR_RATE, "count": 10})
    sims = healthy_sims(simulators, kube)
    new_sim = sims[1]
    stable, candidate = serve_stable(kube, prometheus, rollout, *sims)

    kube.set_target("sa", candidate)
    wait_selected(kube, "sa", CANDIDATE, "active Service switched to the candidate", timeout=60)
    # The operator switches the Service before it writes status, so the phase follows a moment later.
    kube.wait_status("sa", "post-promotion analysis running", lambda s: s.get("phase") == "Promoting")

    new_sim.set(error_rate=0.5)
    restored = wait_selected(kube, "sa", STABLE, "active Service switched back to stable", timeout=60)
    print(f"\nblue-green: error rate 50 % -> active Service back on {STABLE} after {restored:.2f}s")

    status = kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack")
    assert status["stableVersion"] == stable
    assert condition(status, "AnalysisFailed")["status"] == "True"
    assert "error-rate=" in condition(status, "AnalysisFailed")["message"]
    assert status["history"][-1]["outcome"] == "RolledBack"
    assert kube.selected_version("sa-preview") == STABLE
    assert kube.model_version_status(candidate)["stage"] == "rejected"
    assert kube.model_version_status(stable)["stage"] == "production"
    kube.wait(lambda: kube.replicas("sa") == {STABLE: (2, 2), CANDIDATE: (0, 0)} or None, "candidate scaled down")
