"""Live progress of a run in the terminal (one line per step, a bar for the run)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dockyard.cli._common import esc, styled


class RichProgress:
    def __init__(self, console: Console, pipeline: str) -> None:
        self.console = console
        self.pipeline = pipeline
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None
        self._starts: dict[str, float] = {}

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def started(self, run_id: str, steps: list[str]) -> None:
        self._progress.console.print(f"Run [bold]{run_id[:8]}[/] of {esc(self.pipeline)}")
        self._task = self._progress.add_task(esc(self.pipeline), total=len(steps))

    def step_started(self, name: str) -> None:
        self._starts[name] = time.perf_counter()
        self._progress.update(self._task, description=esc(f"{self.pipeline}: {name}"))

    def step_finished(self, name: str, status: str, cache_hit: bool) -> None:
        took = time.perf_counter() - self._starts.get(name, time.perf_counter())
        label = "cached" if cache_hit else status
        self._progress.console.print(
            f"  {esc(f'{name:<24}')} {styled(label)} [dim]{took * 1000:.0f} ms[/]"
        )
        self._progress.advance(self._task)
