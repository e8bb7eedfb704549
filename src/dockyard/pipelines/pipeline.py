"""``@pipeline``: a function whose step calls are traced into a DAG and run on a stack."""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dockyard.errors import DockyardError, ParameterError, RunFailed, StepFailed
from dockyard.lake.refs import DatasetRef
from dockyard.pipelines.datasets import as_dataset, pin_datasets
from dockyard.pipelines.execution import RunContext, execute_step
from dockyard.pipelines.heartbeat import Heartbeat
from dockyard.pipelines.params import (
    check_param,
    load_run_config,
    resolved_hints,
    validate_run_config,
)
from dockyard.pipelines.plan import RunPlan
from dockyard.pipelines.runs import Run
from dockyard.pipelines.step import Step
from dockyard.pipelines.tracing import Tracer

if TYPE_CHECKING:
    from dockyard.metadata.base import MetadataStore, RunRecord, RunStatus, StepRunRecord
    from dockyard.orchestrators.base import RemoteStep
    from dockyard.pipelines.remote import StackSpec
    from dockyard.stacks.stack import Stack

_log = logging.getLogger(__name__)


class Progress(Protocol):
    """What a caller (the CLI's progress bar) is told while a run runs."""

    def started(self, run_id: str, steps: list[str]) -> None: ...
    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, status: str, cache_hit: bool) -> None: ...


class Pipeline:
    """A pipeline definition. Create it with the :func:`pipeline` decorator."""

    def __init__(
        self,
        func: Callable[..., None],
        *,
        name: str | None = None,
        enable_cache: bool = True,
        run_options: Mapping[str, Any] | None = None,
    ) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name or func.__name__
        self.enable_cache = enable_cache
        self.signature = inspect.signature(func)
        self.hints = resolved_hints(func)
        self._run_options = dict(run_options or {})

    def with_options(
        self,
        *,
        enable_cache: bool | None = None,
        stack: str | None = None,
        config: str | Path | Mapping[str, Any] | None = None,
        trust_pickle: bool | None = None,
    ) -> Pipeline:
        """A copy that runs with these options: ``training.with_options(enable_cache=False)(C=1)``."""
        options = {**self._run_options}
        for key, value in (
            ("enable_cache", enable_cache),
            ("stack", stack),
            ("config", config),
            ("trust_pickle", trust_pickle),
        ):
            if value is not None:
                options[key] = value
        return Pipeline(
            self.func, name=self.name, enable_cache=self.enable_cache, run_options=options
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Run:
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(f"Bad arguments for pipeline {self.name!r}: {exc}.") from None
        return self.run(dict(bound.arguments), **self._run_options)

    # ---------------------------------------------------------------- planning
    def _params(self, given: Mapping[str, Any], from_config: Mapping[str, Any]) -> dict[str, Any]:
        params = {**from_config, **given}
        known = self.signature.parameters
        for key in params:
            if key not in known:
                raise ParameterError(
                    f"Pipeline {self.name!r} has no parameter {key!r}. "
                    f"Its parameters: {', '.join(known) or 'none'}."
                )
        for key, p in known.items():
            if key not in params:
                if p.default is inspect.Parameter.empty:
                    raise ParameterError(
                        f"Pipeline {self.name!r} needs parameter {key!r}: pass it "
                        f"(-p {key}=VALUE) or set parameters.{key} in the run config."
                    )
                params[key] = p.default
            owner, annotation = f"pipeline {self.name!r}", self.hints.get(key, p.annotation)
            dataset = as_dataset(owner, key, params[key], annotation)
            if dataset is not None:
                params[key] = dataset  # the steps it is passed to declare it
                continue
            check_param(owner, key, params[key], annotation)
        return params

    def plan(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        config: str | Path | Mapping[str, Any] | None = None,
        enable_cache: bool | None = None,
        trust_pickle: bool = False,
    ) -> tuple[RunPlan, dict[str, Step]]:
        """Trace the pipeline into a plan; checks every parameter, runs no step."""
        run_config: dict[str, Any] = {}
        if isinstance(config, str | Path):
            run_config = load_run_config(config)
        elif config is not None:
            run_config = validate_run_config(dict(config))
        values = self._params(params or {}, run_config.get("parameters") or {})
        tracer = Tracer(run_config.get("steps"))
        with tracer:
            self.func(**values)
        tracer.check_config_covered()
        if enable_cache is None:
            enable_cache = run_config.get("enable_cache", self.enable_cache)
        from dockyard.pipelines.loader import module_ref

        plan = RunPlan(
            pipeline=self.name,
            source=f"{module_ref(self.func.__module__)}:{self.func.__qualname__}",
            params={k: str(v) if isinstance(v, DatasetRef) else v for k, v in values.items()},
            invocations=tracer.invocations,
            enable_cache=bool(enable_cache),
            trust_pickle=bool(trust_pickle or run_config.get("trust_pickle", False)),
        )
        return plan, tracer.steps

    # ---------------------------------------------------------------- running
    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        config: str | Path | Mapping[str, Any] | None = None,
        stack: str | Stack | None = None,
        enable_cache: bool | None = None,
        trust_pickle: bool | None = None,
        progress: Progress | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Run:
        """Plan and execute on a stack; returns the run, raises StepFailed if a step failed.

        ``extra`` is recorded with the run's plan (``triggered_by``: what started it)."""
        from dockyard.settings import Settings
        from dockyard.stacks.stack import Stack, load_stack

        if trust_pickle is None:
            trust_pickle = Settings.from_env().trust_pickle
        plan, steps = self.plan(
            params, config=config, enable_cache=enable_cache, trust_pickle=trust_pickle
        )
        plan.extra.update(extra or {})
        the_stack = stack if isinstance(stack, Stack) else load_stack(stack)
        return execute_plan(plan, the_stack, steps=steps, progress=progress)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name}>"


class _Driver:
    """The StepRunner the orchestrator drives: one run's steps through execute_step."""

    def __init__(self, ctx: RunContext, stack: Stack, progress: Progress | None) -> None:
        self.ctx = ctx
        self.stack = stack
        self.progress = progress
        self.failures: list[tuple[str, BaseException]] = []
        self._spec: StackSpec | None = None

    def execute(self, name: str) -> bool:
        if self.progress:
            self.progress.step_started(name)
        try:
            record: StepRunRecord = execute_step(self.ctx, name)
        except Exception as exc:
            self.failures.append((name, exc))
            if self.progress:
                self.progress.step_finished(name, "failed", False)
            return False
        if self.progress:
            self.progress.step_finished(name, record.status, record.cache_hit)
        return True

    def skip(self, name: str, reason: str) -> None:
        self.ctx.metadata.record_step_run(self.ctx.run_id, name, status="skipped", error=reason)
        if self.progress:
            self.progress.step_finished(name, "skipped", False)

    def command(self, name: str) -> list[str]:
        return [
            sys.executable, "-m", "dockyard", "step", "run",
            "--run", self.ctx.run_id, "--step", name, "--stack", self.stack.name,
        ]  # fmt: skip

    def remote(self, name: str) -> RemoteStep:
        from dockyard.orchestrators.base import RemoteStep
        from dockyard.pipelines.remote import StackSpec, run_remote

        if self._spec is None:
            self._spec = StackSpec.of(self.stack)
        call = functools.partial(run_remote, self._spec, self.ctx.run_id, name)
        return RemoteStep(key=f"dockyard-{self.ctx.run_id}-{name}", call=call)


def _finish_quietly(
    metadata: MetadataStore, run_id: str, status: RunStatus, error: str, cause: BaseException
) -> None:
    """Record the run's end while another error is on its way up: that error is the one
    to report; if the end cannot be recorded the run reads as crashed, and a note says so."""
    try:
        metadata.finish_run(run_id, status, error)
    except Exception as exc:  # reported as a note on the error being raised
        cause.add_note(f"dockyard: the end of run {run_id[:8]} was not recorded: {exc}")


def execute_plan(
    plan: RunPlan,
    stack: Stack,
    *,
    steps: dict[str, Step] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Record a run of ``plan`` and let the stack's orchestrator execute it.

    This process owns the run: it heartbeats while the run runs, and records its end.
    Dataset parameters are pinned to their latest versions on ``stack``'s lake first.
    """
    from dockyard.pipelines.remote import local_stores

    stack.orchestrator.check(local_stores=local_stores(stack))
    pin_datasets(plan, stack)
    metadata = stack.metadata_store
    record = metadata.create_run(
        plan.pipeline, spec=plan.to_dict(), params=plan.params, stack=stack.name
    )
    with Heartbeat(metadata, record.id, metadata.heartbeat_s):
        return _drive(plan, stack, record, steps or {}, progress)


def _drive(
    plan: RunPlan,
    stack: Stack,
    record: RunRecord,
    steps: dict[str, Step],
    progress: Progress | None,
) -> Run:
    metadata = stack.metadata_store
    ctx = RunContext(run_id=record.id, plan=plan, stack=stack, steps=dict(steps))
    driver = _Driver(ctx, stack, progress)
    if progress:
        progress.started(record.id, list(plan.invocations))
    try:
        stack.orchestrator.run(plan.graph(), driver)
    except BaseException as exc:
        _finish_quietly(metadata, record.id, "failed", f"{type(exc).__name__}: {exc}", exc)
        raise
    recorded = metadata.list_step_runs(record.id)
    failed = [r for r in recorded if r.status == "failed"]
    missing = [name for name in plan.invocations if name not in {r.name for r in recorded}]
    if not driver.failures and not failed and not missing:
        metadata.finish_run(record.id, "completed")
        return Run(metadata.get_run(record.id), stack)
    if missing and not driver.failures and not failed:
        # A step whose process ended before recording anything (killed, or it could not
        # start): never report such a run as completed.
        lost = RunFailed(
            f"Run {record.id[:8]} failed: step(s) {', '.join(missing)} were not recorded by "
            f"the {stack.orchestrator.flavor} orchestrator (their process ended before "
            "recording a result). Run again to resume from the cache.",
            run_id=record.id,
        )
        _finish_quietly(metadata, record.id, "failed", str(lost), lost)
        raise lost

    resume = (
        "Earlier steps' outputs are kept: fix the step and run again to resume from the "
        "cache. Logs: dockyard runs logs {run} {step}"
    )
    error: BaseException
    if driver.failures:
        name, error = driver.failures[0]
    else:  # the step failed in another process (mode: process, external orchestrators)
        name = failed[0].name
        last_line = (failed[0].error or "unknown error").strip().splitlines()[-1]
        error = StepFailed(f"Step {name!r} failed in run {record.id[:8]}: {last_line}")
    _finish_quietly(metadata, record.id, "failed", str(error), error)
    if isinstance(error, StepFailed):
        raised = StepFailed(
            f"{error} {resume.format(run=record.id[:8], step=name)}", step=name, run_id=record.id
        )
        for note in getattr(error, "__notes__", ()):
            raised.add_note(note)
        raise raised from error.__cause__
    if isinstance(error, DockyardError):
        raise error
    raise RunFailed(
        f"Run {record.id[:8]} failed at step {name!r}: {type(error).__name__}: {error}",
        run_id=record.id,
    ) from error


def pipeline(
    func: Callable[..., None] | None = None,
    /,
    *,
    name: str | None = None,
    enable_cache: bool = True,
) -> Any:
    """Turn a function calling steps into a pipeline.

    Example::

        @pipeline
        def training(C: float = 1.0):
            df = load()
            tr, te = split(df)
            evaluate(train(tr, C=C), te)

        run = training(C=0.5)
    """
    if func is not None:
        return Pipeline(func, name=name, enable_cache=enable_cache)
    return lambda f: Pipeline(f, name=name, enable_cache=enable_cache)
