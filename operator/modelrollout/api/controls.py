"""Imperative controls: how a user (or the CLI) asks a Rollout to promote, abort, pause...

Controls never edit fields that Git owns. A user sets the annotation
`modelrollout.io/control` to `<verb>/<token>`, where the token is unique per request (the CLI
uses a timestamp). The operator acts once per distinct value and records it in
`status.lastHandledControl`, so a restarted operator never repeats a control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

CONTROL_ANNOTATION = "modelrollout.io/control"
ControlVerb = Literal["promote", "promote-full", "abort", "retry", "pause", "resume", "stop", "undo"]
CONTROL_VERBS: tuple[str, ...] = get_args(ControlVerb)


@dataclass(frozen=True)
class ControlRequest:
    """One request read from the annotation."""

    verb: ControlVerb
    token: str
    raw: str


def parse_control(value: str | None) -> ControlRequest | None:
    """The control request in an annotation value, or None when absent or malformed."""
    if not value:
        return None
    verb, _, token = value.partition("/")
    if verb not in CONTROL_VERBS:
        return None
    return ControlRequest(verb=verb, token=token, raw=value)  # type: ignore[arg-type]
