"""POST a JSON body to a webhook, with retries. Blocking: callers run it off the reconcile path."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

USER_AGENT = "modelrollout-operator"


class DeliveryError(RuntimeError):
    """The webhook did not accept the notification after every attempt."""


def post_json(url: str, body: Mapping[str, Any], headers: Mapping[str, str], timeout: float) -> int:
    """One POST; returns the HTTP status. Raises on a network error or a status >= 400."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def deliver(
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    attempts: int = 5,
    first_delay: float = 1.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST until accepted, doubling the delay between attempts; 4xx other than 408/429 is final
    (the same request would be refused again). Returns the number of attempts it took."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            post_json(url, body, headers, timeout)
            return attempt
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise DeliveryError(f"refused with HTTP {error.code}") from error
            problem = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            problem = str(getattr(error, "reason", error))
        if attempt < attempts:
            log.debug("webhook attempt %d failed (%s); retrying in %.1fs", attempt, problem, delay)
            sleep(delay)
            delay *= 2
    raise DeliveryError(f"{problem} after {attempts} attempts")
