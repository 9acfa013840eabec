"""Requests with user ids, routed as an application would: `assign` over a published route table.

Lets a test check end to end that the versions answering match the weight the operator wrote,
and that each user keeps getting the same version.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelrollout.routing.assign import assign


def send(url: str, header: str, user: str, timeout: float = 15.0) -> str:
    """One request for `user` to a simulator; the version that answered."""
    request = urllib.request.Request(
        url + "/predict", data=b"{}", method="POST", headers={"Content-Type": "application/json", header: user}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:  # a simulated error still names its version
        body = json.loads(error.read())
    return str(body["version"])


def send_users(
    table: Mapping[str, Any], urls: Mapping[str, str], users: Iterable[str], workers: int = 8
) -> dict[str, str]:
    """One request per user, to the simulator of the version label `assign` picks (`urls` maps
    version label to base URL); returns user -> version label that answered."""
    header = str(table.get("header") or "x-user-id")
    users = list(users)

    def one(user: str) -> str:
        return send(urls[assign(user, table)["label"]], header, user)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        answered = list(pool.map(one, users))
    return dict(zip(users, answered, strict=True))


def counts(answers: Mapping[str, str]) -> Counter[str]:
    return Counter(answers.values())
