"""One ``dockyard serve`` process per model version, on 127.0.0.1, supervised.

:meth:`Supervisor.reconcile` is called on every controller tick with the versions that
must run. It never blocks: it starts what is missing (on a free port), polls readiness
(``GET /v2/health/ready``) of what is starting, restarts a process that exited, and
stops what is no longer wanted (SIGTERM, so in-flight requests finish; SIGKILL after
``stop_timeout_s``). :meth:`record` is what the controller stores (pid and port per
version), and :meth:`adopt` takes it back after a restart: a process still alive and
answering is kept, so a killed-and-restarted agent does not restart the models.

The command is ``python -m dockyard serve MODEL:VERSION --host H --port P`` (plus
``--trust-pickle`` when the rollout allows pickled models). ``DOCKYARD_SERVE_COMMAND``
replaces it with a template such as ``my-server {ref} --port {port}`` (``{ref}``,
``{model}``, ``{version}``, ``{host}``, ``{port}``, ``{python}``), for other servers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard._logs import LOG_FILE_ENV
from dockyard.errors import DockyardError
from dockyard.rollout.processes import child_env, http_ok, pid_alive
from dockyard.rollout.target import DeployTarget

__all__ = ["Supervisor", "free_port"]

log = logging.getLogger("dockyard.rollout")

#: A version that could not be started (no token) is tried again this much later.
REFUSED_RETRY_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class _Proc:
    version: int
    replica: int
    port: int
    pid: int
    popen: subprocess.Popen[bytes] | None  # None when adopted from an earlier agent
    started_at: float
    ready: bool = False
    restarts: int = 0
    stop_deadline: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)


class Supervisor(DeployTarget):
    """Starts, watches and stops the serve processes of one deployment: the local
    :class:`~dockyard.rollout.target.DeployTarget`.

    Args:
        host: Interface the processes listen on.
        log_dir: Where each process's output goes (``<version>.log``); discarded if None.
        env: Extra environment variables for the processes.
        command: ``command(ref, host, port, trust_pickle) -> argv``; default: ``dockyard
            serve`` (or ``DOCKYARD_SERVE_COMMAND``).
        token: Called when a process starts: the bearer token it must require (None: no
            token). It comes from the deployment's recorded spec, never from this
            process's environment (``DOCKYARD_SERVE_TOKEN`` and ``DOCKYARD_TRUST_PICKLE``
            are removed from what the processes inherit).
        ready_timeout_s: A process not ready by then is killed and started again.
        stop_timeout_s: Grace period between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        log_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        command: Callable[[str, str, int, bool], list[str]] | None = None,
        token: Callable[[], str | None] | None = None,
        ready_timeout_s: float = 120.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.command = command or default_command
        self.token = token
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._procs: dict[tuple[int, int], _Proc] = {}  # (version, replica) -> process
        self._refused: dict[int, float] = {}  # version -> when its start was refused
        self._stopping: list[_Proc] = []

    # what the controller asks --------------------------------------------------------
    def _replicas(self, version: int) -> list[_Proc]:
        return [p for (v, _), p in sorted(self._procs.items()) if v == version]

    def is_ready(self, version: int) -> bool:
        """Every wanted process of ``version`` answers its readiness check."""
        procs = self._replicas(version)
        return bool(procs) and all(p.ready for p in procs)

    def url(self, version: int) -> str | None:
        urls = self.urls(version)
        return urls[0] if urls else None

    def urls(self, version: int) -> list[str]:
        """The processes of ``version`` that answer (all of them while none does yet)."""
        procs = self._replicas(version)
        ready = [p.url for p in procs if p.ready]
        return ready or [p.url for p in procs]

    def record(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for (version, _), p in sorted(self._procs.items()):
            info = {
                "port": p.port,
                "pid": p.pid,
                "url": p.url,
                "ready": p.ready,
                "restarts": p.restarts,
            }
            main = out.get(str(version))
            if main is None:
                out[str(version)] = info
            else:
                main.setdefault("replicas", []).append(info)
        return out

    def adopt(self, backends: Mapping[str, Mapping[str, Any]]) -> None:
        """Take over the processes an earlier agent recorded, when they still answer."""
        for key, main in backends.items():
            version = int(key)
            for replica, info in enumerate([main, *(main.get("replicas") or ())]):
                pid, port = int(info.get("pid") or 0), int(info.get("port") or 0)
                if (version, replica) in self._procs or not port:
                    continue
                if pid_alive(pid) and http_ok(port, self.host):
                    log.info("adopted version %s (pid %s, port %s)", version, pid, port)
                    self._procs[version, replica] = _Proc(
                        version,
                        replica,
                        port,
                        pid,
                        None,
                        time.time(),
                        ready=True,
                        restarts=int(info.get("restarts") or 0),
                    )
                elif pid_alive(pid):
                    # Alive but not answering: not trustworthy; replace it.
                    self._stopping.append(_Proc(version, replica, port, pid, None, time.time()))
                    self._terminate(self._stopping[-1])

    def reconcile(
        self, model: str, wanted: Iterable[int], *, trust_pickle: bool = False, replicas: int = 1
    ) -> None:
        """Bring the running processes in line with ``wanted`` versions, ``replicas``
        processes each (never blocks long). A process that exited is started again at
        once the first time (then after 0.5 s, 1 s, 2 s ... of a crash loop)."""
        now = time.time()
        keys = [(v, r) for v in wanted for r in range(max(1, replicas))]
        for key in keys:
            version, replica = key
            proc = self._procs.get(key)
            if proc is None:
                self._start(model, version, replica, trust_pickle)
                continue
            if not proc.alive():
                proc.ready = False
                backoff = 0.0 if proc.restarts == 0 else min(30.0, 0.5 * 2 ** (proc.restarts - 1))
                if now - proc.started_at < backoff:
                    continue
                log.warning("version %s (pid %s) exited; starting it again", version, proc.pid)
                self._reap(proc)
                self._start(
                    model,
                    version,
                    replica,
                    trust_pickle,
                    port=proc.port,
                    restarts=proc.restarts + 1,
                )
                continue
            if not proc.ready:
                if http_ok(proc.port, self.host):
                    proc.ready = True
                elif now - proc.started_at > self.ready_timeout_s:
                    log.warning(
                        "version %s not ready after %.0fs; restarting",
                        version,
                        self.ready_timeout_s,
                    )
                    self._terminate(proc, kill=True)
                    self._reap(proc)
                    self._start(model, version, replica, trust_pickle, restarts=proc.restarts + 1)
        for key in [k for k in self._procs if k not in keys]:
            proc = self._procs.pop(key)
            log.info("stopping version %s (pid %s)", proc.version, proc.pid)
            self._terminate(proc)
            self._stopping.append(proc)
        self._finish_stopping(now)

    def stop_all(self, *, wait_s: float | None = None) -> None:
        """Stop every process (SIGTERM, then SIGKILL after the grace period)."""
        for proc in self._procs.values():
            self._terminate(proc)
            self._stopping.append(proc)
        self._procs.clear()
        deadline = time.time() + (self.stop_timeout_s if wait_s is None else wait_s)
        while self._stopping and time.time() < deadline:
            self._finish_stopping(time.time())
            time.sleep(0.05)
        for proc in self._stopping:
            self._terminate(proc, kill=True)
            self._reap(proc)
        self._stopping.clear()

    # processes ------------------------------------------------------------------------
    def _start(
        self,
        model: str,
        version: int,
        replica: int,
        trust_pickle: bool,
        *,
        port: int | None = None,
        restarts: int = 0,
    ) -> None:
        port = port or free_port(self.host)
        ref = f"{model}:{version}"
        argv = self.command(ref, self.host, port, trust_pickle)
        env = child_env({**os.environ, **self.env})
        if trust_pickle:
            env["DOCKYARD_TRUST_PICKLE"] = "1"
        if time.time() - self._refused.get(version, 0.0) < REFUSED_RETRY_S:
            return
        try:
            token = self.token() if self.token is not None else None
        except DockyardError as exc:  # never start it unprotected: it stays down, and says why
            log.error("not starting %s (trying again in %gs): %s", ref, REFUSED_RETRY_S, exc)
            self._refused[version] = time.time()
            return
        if token:
            env["DOCKYARD_SERVE_TOKEN"] = token
        out: Any = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stem = f"{version}" if replica == 0 else f"{version}-{replica}"
            # The process logs to a rotated file; its stdout/stderr file keeps only what
            # escapes logging (a crash before logging is set up).
            env[LOG_FILE_ENV] = str(self.log_dir / f"{stem}.log")
            out = open(self.log_dir / f"{stem}.out", "ab")  # noqa: SIM115 - the child owns it
        try:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        log.info("started %s on port %s (pid %s)", ref, port, popen.pid)
        self._procs[version, replica] = _Proc(
            version, replica, port, popen.pid, popen, time.time(), restarts=restarts
        )

    def _terminate(self, proc: _Proc, *, kill: bool = False) -> None:
        if proc.stop_deadline is None:
            proc.stop_deadline = time.time() + self.stop_timeout_s
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)

    def _reap(self, proc: _Proc) -> None:
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=1.0)

    def _finish_stopping(self, now: float) -> None:
        still = []
        for proc in self._stopping:
            if not proc.alive():
                self._reap(proc)
                continue
            if proc.stop_deadline is not None and now > proc.stop_deadline:
                self._terminate(proc, kill=True)
            still.append(proc)
        self._stopping = still


def default_command(ref: str, host: str, port: int, trust_pickle: bool) -> list[str]:
    template = os.environ.get("DOCKYARD_SERVE_COMMAND")
    model, _, version = ref.partition(":")
    if template:
        values = {
            "ref": ref,
            "model": model,
            "version": version,
            "host": host,
            "port": str(port),
            "python": sys.executable,
        }
        return [part.format(**values) for part in shlex.split(template)]
    argv = [sys.executable, "-m", "dockyard", "serve", ref, "--host", host, "--port", str(port)]
    if trust_pickle:
        argv.append("--trust-pickle")
    return argv
