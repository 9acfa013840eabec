"""Child processes that never outlive the test run: own process group, log file, atexit cleanup."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Processes started by this interpreter and not yet stopped, in start order, so the atexit hook
# can stop them in reverse (kwok before the API server before etcd).
_live: dict[int, ManagedProcess] = {}


class ProcessFailedError(RuntimeError):
    """A component exited or never became ready; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    alive: Callable[[], None] | None = None,
) -> T:
    """Polls `check` until it returns something other than None/False; `alive` may raise early."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if alive is not None:
            alive()
        try:
            result = check()
        except Exception as exc:  # a poll that fails is a poll that is not ready yet
            last_error = exc
            result = None
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def _pdeathsig_prefix() -> list[str]:
    # setpriv sets PR_SET_PDEATHSIG and then execs: the child gets SIGKILL if we die hard
    # (SIGKILL, OOM), when atexit never runs. Done outside Python so no preexec_fn is needed,
    # which is unsafe once other threads (kopf, Prometheus clients) run.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


class ManagedProcess:
    """One long-running program with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.die_with_parent = die_with_parent
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._popen.pid

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = (_pdeathsig_prefix() if self.die_with_parent else []) + self.argv
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                # Own session and process group: Ctrl-C in the terminal reaches pytest only,
                # and stop() can signal the whole group.
                start_new_session=True,
            )
        _live[self._popen.pid] = self
        return self

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def check_running(self) -> None:
        """Raises with the log tail if the process has exited."""
        if self._popen is not None and self._popen.poll() is not None:
            raise ProcessFailedError(f"{self.name} exited with code {self._popen.returncode}\n{self.describe_log()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def describe_log(self, lines: int = 40) -> str:
        return f"--- last {lines} lines of {self.log_path} ---\n{self.log_tail(lines)}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout`."""
        popen = self._popen
        if popen is None:
            return
        _live.pop(popen.pid, None)
        if popen.poll() is None:
            _signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait()
        # Reap helpers the program may have left in its group.
        _signal_group(popen.pid, signal.SIGKILL)

    def detach(self) -> None:
        """Leaves the process running after this interpreter exits (for `dev up`)."""
        if self._popen is not None:
            _live.pop(self._popen.pid, None)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_pid_group(pid: int, expected_name: str, timeout: float = 10.0) -> bool:
    """Stops a process group started earlier by another interpreter (`dev down`).

    Checks the command line first so a recycled pid is never killed. Returns whether it was
    running.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if expected_name not in cmdline:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_running(pid):
            break
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    return True


def pid_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie is not: containers often lack a reaping init)."""
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


@atexit.register
def _stop_all() -> None:
    for process in reversed(list(_live.values())):
        process.stop(timeout=5.0)
