"""Everything the operator owns is watched: hand edits come back on the watch event, not a resync."""

from __future__ import annotations

import time

from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess
from modelrollout.handlers.reconciler import RESYNC_SECONDS

STEPS = [{"setWeight": 50}, {"pause": {}}]
# Far below the resync: only the watch event can have put it back in time.
RESTORED_WITHIN = RESYNC_SECONDS / 6


def test_hand_edits_of_services_and_deployments_are_undone_on_their_watch_event(
    kube: Cluster, operator: OperatorProcess
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(canary_rollout("sa", "sa-2-3-1", STEPS))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    wanted = {"modelrollout.io/rollout": "sa", "modelrollout.io/version": "2.3.1"}
    assert kube.selector("sa") == wanted

    # A selector pointing at a version with no pods would be an outage until restored.
    outage = {"spec": {"selector": {"modelrollout.io/version": "9.9.9"}}}
    edited = time.monotonic()
    kube.core.patch_namespaced_service("sa", kube.namespace, outage)
    kube.wait(lambda: kube.selector("sa") == wanted or None, "selector restored", timeout=RESTORED_WITHIN)
    print(f"hand-edited selector restored {time.monotonic() - edited:.2f}s after the edit (figure, not asserted)")

    kube.core.delete_namespaced_service("sa-canary", kube.namespace)
    kube.wait(lambda: kube.selector("sa-canary") == wanted or None, "Service recreated", timeout=RESTORED_WITHIN)

    kube.apps.patch_namespaced_deployment_scale("sa-2.3.1", kube.namespace, {"spec": {"replicas": 1}})
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4)} or None, "replicas restored", timeout=RESTORED_WITHIN)

    def image() -> str:
        deployment = kube.apps.read_namespaced_deployment("sa-2.3.1", kube.namespace)
        return str(deployment.spec.template.spec.containers[0].image)

    wanted_image = image()
    edit = {"spec": {"template": {"spec": {"containers": [{"name": "server", "image": "example.com/other:1"}]}}}}
    kube.apps.patch_namespaced_deployment("sa-2.3.1", kube.namespace, edit)
    kube.wait(lambda: image() == wanted_image or None, "image restored", timeout=RESTORED_WITHIN)
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4)} or None, "pods ready again")
    assert kube.status("sa")["phase"] == "Healthy"
