"""The one function every orchestrator uses to execute a step.

:func:`execute_step` (a) computes the cache key, (b) loads inputs through the
materializers, (c) runs the user's function with retries and captured logs, (d) saves
outputs to the artifact store, and (e) records the step run and lineage in the metadata
store. The local orchestrators call it in-process; ``dockyard step run --run R --step S``
calls it in a fresh process, which is how Dask, Airflow and Kubeflow run steps.
"""

from __future__ import annotations

import contextvars
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dockyard.errors import (
    ArtifactCorruptedError,
    ArtifactNotFoundError,
    NoMaterializerError,
    RecordNotFoundError,
    StepFailed,
    StepOutputError,
)
from dockyard.lake.lineage import recording
from dockyard.metadata.base import (
    ArtifactDraft,
    ArtifactRecord,
    DatasetUse,
    MetadataStore,
    StepRunRecord,
)
from dockyard.pipelines.artifact_io import load_value, save_value
from dockyard.pipelines.cache import cache_key, code_fingerprint
from dockyard.pipelines.capture import capture_output
from dockyard.pipelines.datasets import declared_uses, step_arguments
from dockyard.pipelines.plan import Invocation, RunPlan

if TYPE_CHECKING:
    from dockyard.artifacts.base import ArtifactStore
    from dockyard.artifacts.materializers.registry import MaterializerRegistry
    from dockyard.pipelines.step import Step
    from dockyard.stacks.stack import Stack


@dataclass
class RunContext:
    """Everything needed to execute the steps of one run, in any process."""

    run_id: str
    plan: RunPlan
    stack: Stack
    #: Step objects from tracing; a fresh process resolves them from ``Invocation.source``.
    steps: dict[str, Step] = field(default_factory=dict)
    #: Artifacts this process already knows, by id (saves a query per input).
    artifacts: dict[str, ArtifactRecord | ArtifactDraft] = field(default_factory=dict)
    #: invocation -> output name -> artifact id, filled as steps finish.
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    @property
    def artifact_store(self) -> ArtifactStore:
        return self.stack.artifact_store

    @property
    def metadata(self) -> MetadataStore:
        return self.stack.metadata_store

    @property
    def materializers(self) -> MaterializerRegistry:
        return self.stack.materializers

    def step_for(self, inv: Invocation) -> Step:
        step = self.steps.get(inv.name)
        if step is None:
            from dockyard.pipelines.loader import load_object

            step = load_object(inv.source)
            self.steps[inv.name] = step
        return step

    def output_id(self, upstream: str, output: str) -> str:
        ids = self.outputs.get(upstream)
        if ids is None:
            ids = self.metadata.get_step_run(self.run_id, upstream).outputs
            self.outputs[upstream] = ids
        try:
            return ids[output]
        except KeyError:
            raise RecordNotFoundError(
                f"Step {upstream!r} of run {self.run_id[:8]} has no output {output!r}."
            ) from None

    def artifact(self, artifact_id: str) -> ArtifactRecord | ArtifactDraft:
        record = self.artifacts.get(artifact_id)
        if record is None:
            record = self.metadata.get_artifact(artifact_id)
            self.artifacts[artifact_id] = record
        return record


@dataclass(frozen=True)
class StepContext:
    """What code running inside a step may ask about its execution (``get_step_context``)."""

    run_id: str
    step: str
    pipeline: str
    #: input name -> artifact id (the data this step consumed: its lineage)
    inputs: Mapping[str, str]
    artifact_store: ArtifactStore
    metadata: MetadataStore
    materializers: MaterializerRegistry
    #: The stack the run uses: the other contexts' stores (e.g. ``registry_store``).
    stack: Stack


_STEP_CONTEXT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "dockyard_step_context", default=None
)


def get_step_context() -> StepContext | None:
    """The running step's context, or None outside a step."""
    return _STEP_CONTEXT.get()


OutputCallback = Callable[[ArtifactDraft], None]


def _finalize_output(
    value: Any, output: str, context: StepContext
) -> tuple[Any, OutputCallback | None]:
    """Let an output object act on being produced (``dockyard.Model`` registers itself).

    An output's class may define ``__dockyard_output__(self, context, output_name)``
    returning ``(value_to_store, callback)``; the callback gets the saved artifact. This
    keeps pipelines ignorant of the contexts above it (the registry).
    """
    hook = getattr(type(value), "__dockyard_output__", None)
    if hook is None:
        return value, None
    return hook(value, context, output)  # type: ignore[no-any-return]


def _save_output(value: Any, output: str, ctx: RunContext, context: StepContext) -> ArtifactDraft:
    value, after_save = _finalize_output(value, output, context)
    try:
        draft = save_value(value, ctx.artifact_store, ctx.materializers)
    except NoMaterializerError as exc:
        raise NoMaterializerError(
            f"Step {context.step!r} output {output!r} of run {ctx.run_id[:8]}: {exc}"
        ) from exc
    if after_save is not None:
        after_save(draft)
    return draft


def _load_input(
    arg: str, record: ArtifactRecord | ArtifactDraft, ctx: RunContext, step: str
) -> Any:
    try:
        return load_value(
            record, ctx.artifact_store, ctx.materializers, trust_pickle=ctx.plan.trust_pickle
        )
    except NoMaterializerError as exc:
        raise NoMaterializerError(
            f"Step {step!r} input {arg!r} of run {ctx.run_id[:8]}: {exc}"
        ) from exc


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _split_outputs(inv: Invocation, result: Any) -> list[Any]:
    n = len(inv.outputs)
    if n == 0:
        return []
    if n == 1:
        return [result]
    if not isinstance(result, tuple | list) or len(result) != n:
        got = f"{len(result)} values" if isinstance(result, tuple | list) else type(result).__name__
        raise StepOutputError(
            f"Step {inv.name!r} declares {n} outputs ({', '.join(inv.outputs)}) but returned "
            f"{got}. Return a tuple of {n} values, or fix the return annotation."
        )
    return list(result)


#: Outputs up to this size are read and hash-checked before a cache hit is taken (a
#: local read or one GET, like the existence check it replaces); larger ones are only
#: checked to exist, and verified when a later step loads them.
VERIFY_ON_HIT_BYTES = 1 << 20


def _cached(ctx: RunContext, key: str) -> StepRunRecord | None:
    hit = ctx.metadata.find_cached(key)
    if hit is None:
        return None
    for artifact_id in hit.outputs.values():
        try:
            record = ctx.artifact(artifact_id)
        except RecordNotFoundError:
            return None
        if record.size <= VERIFY_ON_HIT_BYTES:
            try:
                ctx.artifact_store.get(record.uri)
            except (ArtifactNotFoundError, ArtifactCorruptedError):
                # Gone or damaged: a miss; executing the step writes the bytes again.
                return None
        elif not ctx.artifact_store.exists(record.uri):
            return None  # bytes gone: a miss, never an error
    return hit


def execute_step(ctx: RunContext, name: str) -> StepRunRecord:
    """Execute (or reuse from cache) one invocation of ``ctx.plan`` and record it.

    Whatever fails (the user's function, loading an input, the cache check, saving an
    output, recording the result), the step is recorded as ``failed`` with the error
    when the metadata store can still be written, so a failed run never shows the step
    as never started.

    Raises:
        StepFailed: the user's function raised after all retries (original as __cause__).
        StepOutputError / ArtifactError / MetadataError: outputs could not be split or
            saved, or the step could not be recorded.
    """
    attempt = _Attempt(started=_utcnow())
    try:
        return _execute(ctx, name, attempt)
    except Exception as exc:
        if not attempt.recorded:
            _record_failure(ctx, name, attempt, exc, logs=attempt.logs)
        raise


@dataclass
class _Attempt:
    """What one execution of a step got to, for the record of its failure."""

    started: datetime
    key: str | None = None
    input_ids: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    logs: str | None = None
    recorded: bool = False


def _record_failure(
    ctx: RunContext, name: str, attempt: _Attempt, exc: BaseException, *, logs: str | None
) -> None:
    """Record the step as failed; best effort: when the store cannot take it either,
    the original error is the one to report (the run then reads as crashed)."""
    attempt.recorded = True
    try:
        ctx.metadata.record_step_run(
            ctx.run_id,
            name,
            status="failed",
            started_at=attempt.started,
            ended_at=_utcnow(),
            cache_key=attempt.key,
            attempts=attempt.attempts,
            error=_error_text(exc),
            logs=logs,
            inputs=attempt.input_ids,
        )
    except Exception as record_error:  # reported with the original, which is raised
        exc.add_note(f"dockyard: the failure of step {name!r} was not recorded: {record_error}")


def _execute(ctx: RunContext, name: str, attempt: _Attempt) -> StepRunRecord:
    inv = ctx.plan.invocations[name]
    step = ctx.step_for(inv)

    input_ids = {arg: ctx.output_id(up, out) for arg, (up, out) in inv.inputs.items()}
    attempt.input_ids = input_ids
    input_records = {arg: ctx.artifact(aid) for arg, aid in input_ids.items()}
    key = attempt.key = cache_key(
        code=code_fingerprint(step.func),
        params=inv.params,
        input_hashes={arg: r.content_hash for arg, r in input_records.items()},
        materializers=ctx.materializers.fingerprint(),
        cache_version=inv.cache_version,
    )

    if ctx.plan.cache_enabled(name):
        hit = _cached(ctx, key)
        if hit is not None:
            reused = ctx.metadata.list_dataset_uses(hit.run_id, hit.name)
            record = ctx.metadata.record_step_run(
                ctx.run_id,
                name,
                status="cached",
                started_at=attempt.started,
                ended_at=_utcnow(),
                cache_key=key,
                cache_hit=True,
                inputs=input_ids,
                outputs=hit.outputs,
                datasets=[DatasetUse(u.dataset, u.version, u.direction) for u in reused],
            )
            attempt.recorded = True
            ctx.outputs[name] = record.outputs
            return record

    step_context = StepContext(
        run_id=ctx.run_id,
        step=name,
        pipeline=ctx.plan.pipeline,
        inputs=input_ids,
        artifact_store=ctx.artifact_store,
        metadata=ctx.metadata,
        materializers=ctx.materializers,
        stack=ctx.stack,
    )
    attempts = [0]
    token = _STEP_CONTEXT.set(step_context)
    with capture_output() as buf, recording(ctx.stack) as datasets:
        try:
            kwargs = step_arguments(inv.params)
            for arg, rec in input_records.items():
                kwargs[arg] = _load_input(arg, rec, ctx, name)
            result = _call_with_retries(ctx, inv, step.func, kwargs, attempts)
            values = _split_outputs(inv, result)
            drafts = {
                out: _save_output(value, out, ctx, step_context)
                for out, value in zip(inv.outputs, values, strict=True)
            }
        except Exception as exc:  # recorded whatever it is, then re-raised
            attempt.attempts = attempts[0]
            _record_failure(ctx, name, attempt, exc, logs=buf.getvalue() or None)
            raise
        finally:
            _STEP_CONTEXT.reset(token)
    logs = attempt.logs = buf.getvalue() or None

    attempt.attempts = attempts[0]
    record = ctx.metadata.record_step_run(
        ctx.run_id,
        name,
        status="completed",
        started_at=attempt.started,
        ended_at=_utcnow(),
        cache_key=key,
        attempts=attempts[0],
        logs=logs,
        inputs=input_ids,
        outputs=drafts,
        datasets=[
            *declared_uses(inv.params),
            *(DatasetUse(*use) for use in datasets.items()),
        ],
    )
    attempt.recorded = True
    for out, draft in drafts.items():
        ctx.artifacts[record.outputs[out]] = draft
    ctx.outputs[name] = record.outputs
    return record


def _call_with_retries(
    ctx: RunContext,
    inv: Invocation,
    func: Callable[..., Any],
    kwargs: dict[str, Any],
    attempts: list[int],
) -> Any:
    """Call the user's function; after ``inv.retries`` failures wrap the last in StepFailed."""
    while True:
        attempts[0] += 1
        try:
            return func(**kwargs)
        except Exception as exc:
            if attempts[0] > inv.retries:
                raise StepFailed(
                    f"Step {inv.name!r} failed in run {ctx.run_id[:8]}: {type(exc).__name__}: {exc}",
                    step=inv.name,
                    run_id=ctx.run_id,
                ) from exc
            delay = inv.retry_backoff_s * 2 ** (attempts[0] - 1)
            print(f"[dockyard] attempt {attempts[0]} failed ({exc!r}); retrying in {delay}s")
            ctx.sleep(delay)


def _error_text(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(exc, StepFailed) and cause is not None:
        return "".join(traceback.format_exception(cause)).rstrip()
    return f"{type(exc).__name__}: {exc}"


def run_step(
    run_id: str, step: str, stack: Stack | str | None = None, *, retries: int | None = None
) -> StepRunRecord:
    """Execute exactly one step of a planned run in this process, and record it.

    What ``dockyard step run --run RUN --step STEP`` does, and what external
    orchestrators (Dask, Airflow, Kubeflow) call on their workers: the plan is read from
    the metadata store, the step found again by its recorded source, its inputs loaded
    from the artifacts of upstream steps, and the step executed (or served from the
    cache) by :func:`execute_step`.

    Args:
        run_id: the run (or a unique prefix of its id), created by planning the pipeline.
        step: the step invocation's name in the plan (``train``, ``train_2``...).
        stack: the stack whose stores hold the run (default: the active one).
        retries: tries after a failure in this process, in place of the step's own
            (0 where the orchestrator retries the task itself, as Airflow does).

    Raises:
        RecordNotFoundError: no such run, or the run has no such step.
        StepFailed: the user's function raised (its exception is the ``__cause__``).
    """
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    ctx = load_run(run_id, s)
    check_step(ctx, step)
    if retries is not None:
        ctx.plan.invocations[step].retries = max(0, retries)
    from dockyard.pipelines.heartbeat import Heartbeat

    metadata = s.metadata_store
    # A run planned for an external orchestrator has no owner: its steps keep it alive.
    metadata.heartbeat(ctx.run_id)
    with Heartbeat(metadata, ctx.run_id, metadata.heartbeat_s):
        return execute_step(ctx, step)


def load_run(run_id: str, stack: Stack) -> RunContext:
    """The context to execute steps of a recorded run: its plan read from the metadata
    store (a process executing several steps of one run may keep it and reuse it).

    Raises:
        RecordNotFoundError: no such run.
    """
    record = stack.metadata_store.get_run(run_id)
    return RunContext(run_id=record.id, plan=RunPlan.from_dict(record.spec), stack=stack)


def check_step(ctx: RunContext, step: str) -> None:
    """RecordNotFoundError naming the run's steps when ``step`` is not one of them."""
    if step not in ctx.plan.invocations:
        raise RecordNotFoundError(
            f"Run {ctx.run_id[:8]} has no step {step!r}. Its steps: {', '.join(ctx.plan.invocations)}."
        )
