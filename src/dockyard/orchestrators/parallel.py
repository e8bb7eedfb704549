"""``local-parallel``: independent steps at once on a pool of threads or processes.

``workers`` sizes the pool (default: the CPU count). ``mode: thread`` (the default) runs
steps in this process and suits steps that release the GIL (I/O, numpy, sklearn);
``mode: process`` runs each step in a fresh ``dockyard step run`` process, for CPU-bound
pure-Python steps, exactly as an external orchestrator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from dockyard.errors import ConfigError
from dockyard.orchestrators.base import Orchestrator, StepRunner


class LocalParallelOrchestrator(Orchestrator):
    flavor = "local-parallel"

    def __init__(self, workers: int | None = None, mode: str = "thread", **options: Any) -> None:
        if mode not in ("thread", "process"):
            raise ConfigError(f"local-parallel mode must be 'thread' or 'process', got {mode!r}.")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
            raise ConfigError(
                f"local-parallel workers must be a whole number >= 1, got {workers!r}; fix "
                "it in .dockyard/config.yaml (or --orchestrator-option workers=4)."
            )
        workers = int(workers or os.cpu_count() or 2)
        if workers < 1:
            raise ConfigError(f"local-parallel workers must be >= 1, got {workers}.")
        super().__init__(workers=workers, mode=mode, **options)
        self.workers = workers
        self.mode = mode

    def _run_one(self, runner: StepRunner, name: str) -> bool:
        if self.mode == "thread":
            return runner.execute(name)
        proc = subprocess.run(runner.command(name), stdout=sys.stdout, stderr=sys.stderr)
        return proc.returncode == 0

    def run(self, graph: Mapping[str, Sequence[str]], runner: StepRunner) -> None:
        waiting = {name: set(up) for name, up in graph.items()}
        done: set[str] = set()
        failed: set[str] = set()
        running: dict[Future[bool], str] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix="dockyard-step") as pool:
            while waiting or running:
                for name in list(waiting):
                    deps = waiting[name]
                    if deps & failed:
                        runner.skip(name, "an upstream step failed")
                        failed.add(name)
                        del waiting[name]
                    elif deps <= done:
                        running[pool.submit(self._run_one, runner, name)] = name
                        del waiting[name]
                if not running:
                    if waiting:  # only possible with a dependency outside the graph
                        raise ConfigError(f"Steps {sorted(waiting)} wait on unknown steps.")
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    ok = False
                    try:
                        ok = fut.result()
                    except Exception:  # the runner records it; a crash must not hang the DAG
                        ok = False
                    (done if ok else failed).add(name)
