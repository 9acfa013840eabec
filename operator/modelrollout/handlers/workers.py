"""One asyncio worker per Rollout: runs reconcile passes off the event loop, woken by watch events.

Workers keep nothing that matters in memory (all state is in the Rollout's status), so a
restarted operator simply starts them again. Blocking I/O runs in a dedicated thread pool, so
one slow Prometheus or API call never stalls another Rollout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

# Seconds between attempts after a pass raised (an API server hiccup, say).
ERROR_BACKOFF_SECONDS = 5.0
# Coalesces bursts of watch events into one pass.
DEBOUNCE_SECONDS = 0.05
# Passes running at once; the API client's connection pool is sized to match.
RECONCILE_THREADS = 16

Key = tuple[str, str]
PassFn = Callable[[str, str], float | None]


class Worker:
    def __init__(self, key: Key, run_pass: PassFn, executor: ThreadPoolExecutor) -> None:
        self.key = key
        self.run_pass = run_pass
        self.executor = executor
        self.wake_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.loop(), name=f"rollout:{self.key[0]}/{self.key[1]}")

    def wake(self) -> None:
        self.wake_event.set()

    async def loop(self) -> None:
        loop = asyncio.get_running_loop()
        namespace, name = self.key
        while True:
            # Cleared before the pass, so an event arriving during the pass triggers another.
            self.wake_event.clear()
            try:
                requeue = await loop.run_in_executor(self.executor, self.run_pass, namespace, name)
            except Exception:
                log.exception("reconcile of rollout %s/%s failed; retrying", namespace, name)
                requeue = ERROR_BACKOFF_SECONDS
            if requeue is None:
                log.info("rollout %s/%s is gone; worker stops", namespace, name)
                return
            try:
                await asyncio.wait_for(self.wake_event.wait(), timeout=requeue)
                await asyncio.sleep(DEBOUNCE_SECONDS)
            except TimeoutError:
                pass


class WorkerRegistry:
    """Starts, wakes and stops the per-Rollout workers."""

    def __init__(self, run_pass: PassFn, max_threads: int = RECONCILE_THREADS, *, leading: bool = True) -> None:
        self.run_pass = run_pass
        self.executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="reconcile")
        self.workers: dict[Key, Worker] = {}
        # A standby replica keeps no workers: wakes are dropped until it leads.
        self.leading = leading

    def lead(self, keys: Iterable[Key]) -> None:
        """This replica became the leader: a pass for every Rollout it knows."""
        self.leading = True
        for namespace, name in keys:
            self.wake(namespace, name)

    async def follow(self) -> None:
        """This replica stopped leading: no more passes until it leads again."""
        self.leading = False
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()

    def wake(self, namespace: str, name: str) -> None:
        """Run a pass soon; starts the worker if there is none (or the old one ended)."""
        if not self.leading:
            return
        key = (namespace, name)
        worker = self.workers.get(key)
        if worker is None or worker.task is None or worker.task.done():
            worker = Worker(key, self.run_pass, self.executor)
            self.workers[key] = worker
            worker.start()
        worker.wake()

    def wake_existing(self, namespace: str, name: str) -> None:
        worker = self.workers.get((namespace, name))
        if worker is not None:
            worker.wake()

    def wake_namespace(self, namespace: str) -> None:
        for (worker_namespace, _), worker in self.workers.items():
            if worker_namespace == namespace:
                worker.wake()

    async def stop(self, namespace: str, name: str) -> None:
        worker = self.workers.pop((namespace, name), None)
        if worker is not None and worker.task is not None:
            worker.task.cancel()

    async def stop_all(self) -> None:
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
