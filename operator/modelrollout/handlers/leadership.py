"""Leader election on a coordination.k8s.io Lease, so that several replicas never act at once.

The election (the kubernetes client's `leaderelection`) runs in its own thread. kopf keeps
watching on every replica, so the caches of a standby are warm; only the leader runs reconcile
passes and writes. A leader that cannot renew within `renewSeconds` stops its workers before a
standby may take over (`leaseSeconds` after the last renewal), then stands again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from modelrollout.api.settings import LeaderElection

log = logging.getLogger(__name__)


def identity() -> str:
    """Who holds the Lease: the pod (host) name and the process id."""
    return f"{socket.gethostname()}_{os.getpid()}"


class Leadership:
    """Calls `on_started` when this process becomes the leader and `on_stopped` when it stops being it."""

    def __init__(
        self,
        api_client: client.ApiClient,
        settings: LeaderElection,
        namespace: str,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        self.api_client = api_client
        self.settings = settings
        self.namespace = namespace
        self.identity = identity()
        self.on_started = on_started
        self.on_stopped = on_stopped
        self.thread = threading.Thread(target=self.run, name="leader-election", daemon=True)
        # The library logs every unsuccessful attempt at INFO: every 2 s on each standby.
        logging.getLogger("leaderelection").setLevel(logging.WARNING)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        while True:
            lock = LeaseLock(self.settings.lease_name, self.namespace, self.identity)  # type: ignore[no-untyped-call]
            lock.api_instance = client.CoordinationV1Api(self.api_client)
            config = electionconfig.Config(  # type: ignore[no-untyped-call]
                lock=lock,
                lease_duration=self.settings.lease_seconds,
                renew_deadline=self.settings.renew_seconds,
                retry_period=self.settings.retry_seconds,
                onstarted_leading=self.started,
                onstopped_leading=self.stopped,
            )
            log.info("%s stands for leader (Lease %s/%s)", self.identity, self.namespace, self.settings.lease_name)
            try:
                leaderelection.LeaderElection(config).run()  # type: ignore[no-untyped-call]
            except Exception:
                log.exception("leader election failed; standing again")
                self.on_stopped()

    def started(self) -> None:
        log.warning("%s is the leader: reconciling", self.identity)
        self.on_started()

    def stopped(self) -> None:
        log.warning("%s lost the lease: workers stop", self.identity)
        self.on_stopped()
