"""The Kubernetes adapter against the real API server: Events are de-duplicated and counted."""

from __future__ import annotations

from kubernetes import client

from modelrollout.adapters.kube import KubernetesGateway


def test_the_same_event_again_is_counted_not_posted_again(api_client: client.ApiClient, namespace: str) -> None:
    gateway = KubernetesGateway(api_client)
    rollout = {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "chat", "namespace": namespace, "uid": "0a1b2c3d-0000-4000-8000-000000000001"},
    }
    for _ in range(3):
        gateway.emit_event(rollout, "Warning", "ActionFailed", "creating Service chat: exceeded quota (HTTP 403)")
    gateway.emit_event(rollout, "Warning", "ActionFailed", "pointing Service chat: forbidden (HTTP 403)")
    events = client.CoreV1Api(api_client).list_namespaced_event(namespace, field_selector="involvedObject.name=chat")
    counts = sorted((e.message, e.count) for e in events.items)
    assert counts == [
        ("creating Service chat: exceeded quota (HTTP 403)", 3),
        ("pointing Service chat: forbidden (HTTP 403)", 1),
    ]
