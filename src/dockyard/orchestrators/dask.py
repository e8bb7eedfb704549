"""``dask``: each step a future on a Dask ``distributed`` cluster; independent steps at once.

By default every run starts a ``LocalCluster`` of worker processes on 127.0.0.1
(``workers``, default 2; ``threads_per_worker``, default 1) and closes it at the end;
``address: tcp://HOST:PORT`` sends the steps to a running scheduler instead::

    dockyard stack register cluster --orchestrator dask \\
        --orchestrator-option address=tcp://10.0.0.5:8786

Each step runs on a worker through dockyard's one step-execution function
(:class:`~dockyard.orchestrators.base.RemoteStep`: the stack rebuilt from its config), so
caching, lineage and records are those of an in-process run. Task keys are unique per run
and step; this process decides what runs next, so a failed step's dependents are skipped
and recorded as such. A scheduler that does not answer, or a remote cluster with a stack
whose stores are on this machine's disk, is refused before the run is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import ConfigError, OrchestratorError, OrchestratorUnavailableError
from dockyard.orchestrators.base import Orchestrator, StepRunner

_FIX_UNREACHABLE = (
    "Start it (dask scheduler --host HOST --port PORT, and dask worker tcp://HOST:PORT on "
    "each machine), fix the address with dockyard stack register NAME --orchestrator dask "
    "--orchestrator-option address=tcp://HOST:PORT, or leave the address out to start a "
    "LocalCluster for each run."
)


def _whole(name: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"dask {name} must be a whole number >= 1, got {value!r}; fix it in "
            f".dockyard/config.yaml (or --orchestrator-option {name}=2)."
        )
    return value


class DaskOrchestrator(Orchestrator):
    flavor = "dask"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        threads_per_worker: int | None = None,
        **options: Any,
    ) -> None:
        if address is not None:
            address = str(address)
            if "://" not in address:
                address = f"tcp://{address}"
            host, _, port = address.split("://", 1)[1].rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(
                    f"Bad Dask scheduler address {address!r}: write tcp://HOST:PORT, e.g. "
                    "tcp://127.0.0.1:8786."
                )
        self.address = address
        self.workers = _whole("workers", workers, 2)
        self.threads_per_worker = _whole("threads_per_worker", threads_per_worker, 1)
        extra = {"address": address} if address else {"workers": self.workers}
        super().__init__(**extra, **options)

    def check(self, *, local_stores: Sequence[str]) -> None:
        """Refuse, before the run, a remote cluster with stores on this disk, a missing
        ``distributed`` or a scheduler that does not answer."""
        from dockyard._dask import import_distributed, is_remote

        import_distributed(OrchestratorError, "The dask orchestrator")
        in_memory = [s for s in local_stores if ":memory:" in s or "memory://" in s]
        if in_memory:
            raise OrchestratorError(
                f"The dask orchestrator runs steps in worker processes, which cannot see "
                f"this process's in-memory {' and '.join(in_memory)}. Use a file or server "
                "store (the default stack's artifacts folder and sqlite:///metadata.db), or "
                "the local or local-parallel orchestrator."
            )
        if local_stores and is_remote(self.address):
            raise OrchestratorError(
                f"The Dask scheduler at {self.address} is on another machine, but this "
                f"stack keeps its {' and its '.join(local_stores)} on this machine's disk, "
                "which its workers cannot reach. Use stores every worker reaches: dockyard "
                "stack register NAME --orchestrator dask --orchestrator-option "
                f"address={self.address} --artifact-store fsspec --artifact-path "
                "s3://BUCKET/PATH --metadata-url postgresql+psycopg://HOST/DB (or GCS/Azure "
                "URLs), or leave the address out to run on a LocalCluster on this machine."
            )
        if self.address is not None:
            with self._client():
                pass  # answers: the run may be recorded

    def _client(self) -> Any:
        from dockyard._dask import open_client

        return open_client(
            self.address,
            workers=self.workers,
            threads_per_worker=self.threads_per_worker,
            error=OrchestratorError,
            unreachable=OrchestratorUnavailableError,
            what="The dask orchestrator",
            fix=_FIX_UNREACHABLE,
        )

    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        with self._client() as client:
            self._drive(client, graph, runner)

    def _drive(self, client: Any, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        import distributed

        dist: Any = distributed  # untyped: dask.distributed ships partial annotations
        waiting = {name: set(up) for name, up in graph.items()}
        done: set[str] = set()
        failed: set[str] = set()
        broken: list[tuple[str, BaseException]] = []
        # Results come back with the completions (one message per batch), not by asking
        # for each one: a round trip per step was most of dockyard's cost per task.
        running = dist.as_completed(with_results=True, raise_errors=False)
        step_of: dict[str, str] = {}

        def release() -> None:
            for name in list(waiting):
                deps = waiting[name]
                if deps & failed:
                    runner.skip(name, "an upstream step failed")
                    failed.add(name)
                    del waiting[name]
                elif deps <= done:
                    task = runner.remote(name)
                    step_of[task.key] = name
                    running.add(client.submit(task.call, key=task.key, pure=False, retries=0))
                    del waiting[name]

        release()
        # Bounded: every step is submitted once and completes once; iteration ends when
        # nothing is running (steps still waiting then wait on a step outside the graph).
        for future, result in running:
            name = step_of.pop(future.key)
            future.release()
            if isinstance(result, BaseException):  # could not run at all: reported below
                broken.append((name, result))
                ok = False
            else:
                ok = result is True
            (done if ok else failed).add(name)
            release()
        if waiting:
            raise ConfigError(f"Steps {sorted(waiting)} wait on unknown steps.")
        if broken:
            step, error = broken[0]
            raise OrchestratorError(
                f"Step {step!r} could not be executed on the Dask cluster: "
                f"{type(error).__name__}: {error}"
            ) from error
