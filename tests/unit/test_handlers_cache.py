"""The watch-fed cache: index lookups, and the overlay of our own writes until the watch catches up."""

from __future__ import annotations

from typing import Any

import pytest

from modelrollout.adapters.kube import observed_deployment, observed_service
from modelrollout.handlers import cache as cache_module
from modelrollout.handlers.cache import (
    DEPLOYMENTS,
    DEPLOYMENTS_BY_ROLLOUT,
    INDEXES,
    ROLLOUTS,
    SERVICES,
    VERSIONS,
    VERSIONS_BY_MODEL,
    ClusterCache,
    model_versions_by_model,
    model_versions_by_name,
)

NS = "ml"


def deployment(name: str, rv: str, replicas: int = 2, rollout: str | None = "chat") -> dict[str, Any]:
    labels = {"modelrollout.io/rollout": rollout} if rollout else {}
    return {
        "metadata": {"name": name, "namespace": NS, "resourceVersion": rv, "labels": labels, "generation": 1},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 1, "readyReplicas": replicas, "updatedReplicas": replicas},
    }


def service(name: str, rv: str, version: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS, "resourceVersion": rv}
    return {"metadata": meta, "spec": {"selector": {"modelrollout.io/version": version}}}


def model_version(name: str, model: str, rv: str = "1") -> dict[str, Any]:
    template = {"spec": {"containers": [{"name": "server", "image": "example.com/server:1"}]}}
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": rv},
        "spec": {"model": model, "version": "1.0.0", "stage": "staging", "template": template},
    }


class Indexes(dict[str, dict[tuple[str, str], list[Any]]]):
    """kopf's indexes as plain mappings of keys to lists of values."""

    def put(self, index: str, key: tuple[str, str], value: Any) -> None:
        self[index][key] = [value]


@pytest.fixture
def indexes() -> Indexes:
    return Indexes({name: {} for name in INDEXES})


def test_reads_come_from_the_indexes(indexes: Indexes) -> None:
    indexes.put(ROLLOUTS, (NS, "chat"), {"metadata": {"name": "chat", "resourceVersion": "5"}})
    indexes.put(DEPLOYMENTS_BY_ROLLOUT, (NS, "chat"), observed_deployment(deployment("chat-1.0.0", "3")))
    indexes.put(DEPLOYMENTS, (NS, "foreign"), observed_deployment(deployment("foreign", "4", rollout=None)))
    indexes.put(SERVICES, (NS, "chat"), observed_service(service("chat", "6", "1.0.0")))
    cache = ClusterCache(indexes)
    assert cache.get_rollout(NS, "chat") == {"metadata": {"name": "chat", "resourceVersion": "5"}}
    assert cache.get_rollout(NS, "gone") is None
    assert [d.name for d in cache.list_deployments(NS, "chat")] == ["chat-1.0.0"]
    assert cache.get_controller("Deployment", NS, "foreign") == (True, None), "unlabelled ones are seen by name"
    assert cache.get_controller("Service", NS, "chat-preview") == (False, None)
    assert set(cache.get_services(NS, ["chat", "chat-canary"])) == {"chat"}


def test_model_versions_of_the_model_and_those_named(indexes: Indexes) -> None:
    for raw in (model_version("chat-1", "chat"), model_version("chat-2", "chat"), model_version("tts-1", "tts")):
        for index, fn in ((VERSIONS, model_versions_by_name), (VERSIONS_BY_MODEL, model_versions_by_model)):
            for key, value in fn(namespace=NS, name=raw["metadata"]["name"], body=raw, spec=raw["spec"]).items():
                indexes[index].setdefault(key, []).append(value)
    cache = ClusterCache(indexes)
    assert set(cache.model_versions(NS, "chat", [])) == {"chat-1", "chat-2"}
    assert set(cache.model_versions(NS, "chat", ["tts-1"])) == {"chat-1", "chat-2", "tts-1"}
    assert cache.model_versions(NS, "asr", ["missing"]) == {}


def test_an_unreadable_model_version_is_not_indexed() -> None:
    raw = model_version("chat-1", "chat")
    raw["spec"]["version"] = "not a version"
    assert model_versions_by_name(namespace=NS, name="chat-1", body=raw) == {}


def test_our_write_shadows_the_index_until_the_watch_delivers_it(indexes: Indexes) -> None:
    indexes.put(SERVICES, (NS, "chat"), observed_service(service("chat", "10", "1.0.0")))
    cache = ClusterCache(indexes)
    cache.remember("Service", NS, "chat", "12", observed_service(service("chat", "12", "2.0.0")))
    assert cache.get_services(NS, ["chat"])["chat"].selector == {"modelrollout.io/version": "2.0.0"}
    assert cache.is_echo("Service", NS, "chat", "12")
    assert not cache.is_echo("Service", NS, "chat", "13")
    # the watch delivers a newer version (someone edited it after us): the watch wins
    indexes.put(SERVICES, (NS, "chat"), observed_service(service("chat", "13", "9.9.9")))
    assert cache.get_services(NS, ["chat"])["chat"].selector == {"modelrollout.io/version": "9.9.9"}
    assert not cache.overlay, "a caught-up entry is dropped"


def test_a_created_deployment_is_listed_before_its_watch_event(indexes: Indexes) -> None:
    cache = ClusterCache(indexes)
    created = observed_deployment(deployment("chat-2.0.0", "20"))
    cache.remember("Deployment", NS, "chat-2.0.0", "20", created)
    with cache.lock:
        cache.created[(NS, "chat")] = {"chat-2.0.0"}
    assert cache.list_deployments(NS, "chat") == [created]
    assert cache.list_deployments(NS, "other") == []


def test_a_deletion_or_an_old_entry_ends_the_shadow(indexes: Indexes, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ClusterCache(indexes)
    cache.remember("Service", NS, "chat", "12", observed_service(service("chat", "12", "2.0.0")))
    cache.forget("Service", NS, "chat")  # the watch reported it deleted
    assert cache.get_services(NS, ["chat"]) == {}
    cache.remember("Service", NS, "chat", "14", observed_service(service("chat", "14", "2.0.0")))
    now = cache_module.time.monotonic()
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now + cache_module.OVERLAY_SECONDS + 1)
    assert cache.get_services(NS, ["chat"]) == {}


@pytest.mark.parametrize(("candidate", "than", "expected"), [("12", "9", True), ("9", "12", False), ("x", "1", False)])
def test_resource_versions_compare_as_revisions(candidate: str, than: str, expected: bool) -> None:
    assert cache_module.newer(candidate, than) is expected
