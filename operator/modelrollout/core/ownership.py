"""Never adopt what this Rollout did not create (pure).

The operator writes children by server-side apply, which would take over any object of the same
name and, with a controller owner reference, hand it to the garbage collector with the Rollout.
So every existing object under a name the Rollout writes must already be controlled by this
Rollout; anything else is an InvalidSpec that names the object and its owner, and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelrollout.core.observed import ChildObject


def ownership_conflicts(children: Iterable[ChildObject], rollout_uid: str | None, namespace: str) -> list[str]:
    problems: list[str] = []
    for child in children:
        controller = child.controller
        if controller is not None and rollout_uid is not None and controller.uid == rollout_uid:
            continue
        if controller is None:
            owner = "it has no controlling owner"
        elif controller.kind == "Rollout":
            # Also the case of a deleted Rollout whose children the garbage collector has not removed yet.
            owner = f"it belongs to another Rollout named {controller.name} (uid {controller.uid})"
        else:
            owner = f"it is controlled by {controller.kind} {controller.name}"
        problems.append(
            f"{child.kind} {namespace}/{child.name} already exists and this Rollout did not create it ({owner}); "
            "ModelRollout never adopts existing objects: rename the Rollout or remove that object"
        )
    return problems
