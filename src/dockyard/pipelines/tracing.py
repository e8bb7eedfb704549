"""Tracing a ``@pipeline`` function into a :class:`RunPlan` without running any step."""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.errors import ConfigError, ParameterError, PipelineDefinitionError
from dockyard.pipelines.datasets import as_dataset, to_param
from dockyard.pipelines.params import check_param
from dockyard.pipelines.plan import Invocation

if TYPE_CHECKING:
    from dockyard.pipelines.step import Step

_TRACER: contextvars.ContextVar[Tracer | None] = contextvars.ContextVar("tracer", default=None)


def current_tracer() -> Tracer | None:
    return _TRACER.get()


@dataclass(frozen=True, slots=True)
class StepOutput:
    """Handle to a future output of a traced invocation (what a step call returns)."""

    invocation: str
    output: str

    def __repr__(self) -> str:
        return f"<output {self.output!r} of step {self.invocation!r}>"

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(
            f"{self!r} was used as a condition while tracing. Step outputs only exist "
            f"when the pipeline runs; branch inside a step instead."
        )


@dataclass(frozen=True, slots=True)
class InvocationHandle:
    """Returned by a step with no outputs; usable in ``after=``."""

    invocation: str


class Tracer:
    """Collects invocations while the pipeline function body runs."""

    def __init__(self, step_config: Mapping[str, Any] | None = None) -> None:
        self.invocations: dict[str, Invocation] = {}
        self.steps: dict[str, Step] = {}
        self._step_config = dict(step_config or {})
        self._token: contextvars.Token[Tracer | None] | None = None

    def __enter__(self) -> Tracer:
        if _TRACER.get() is not None:
            raise PipelineDefinitionError("A pipeline cannot be called inside another pipeline.")
        self._token = _TRACER.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _TRACER.reset(self._token)

    def _unique_name(self, base: str) -> str:
        if base not in self.invocations:
            return base
        i = 2
        while f"{base}_{i}" in self.invocations:
            i += 1
        return f"{base}_{i}"

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        explicit_id = kwargs.pop("id", None)
        after = kwargs.pop("after", None)
        if explicit_id is not None:
            if explicit_id in self.invocations:
                raise PipelineDefinitionError(f"Two step invocations share the id {explicit_id!r}.")
            name = str(explicit_id)
        else:
            name = self._unique_name(step.name)
        owner = f"step {name!r}"
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise ParameterError(f"Bad arguments for {owner}: {exc}.") from None

        inputs: dict[str, tuple[str, str]] = {}
        params: dict[str, Any] = {}
        for arg, value in bound.arguments.items():
            if isinstance(value, StepOutput):
                inputs[arg] = (value.invocation, value.output)
            elif isinstance(value, InvocationHandle | tuple) and _has_handles(value):
                raise PipelineDefinitionError(
                    f"Argument {arg!r} of {owner} got {value!r}, which is not a single step "
                    f"output. Unpack multi-output steps: `a, b = split(df)`."
                )
            else:
                params[arg] = value

        config = self._step_config.get(name) or {}
        for key, value in (config.get("parameters") or {}).items():
            if key not in step.signature.parameters:
                raise ParameterError(
                    f"Run config sets parameter {key!r} of {owner}, which has no such "
                    f"parameter. Its parameters: {sorted(step.signature.parameters)}."
                )
            if key in inputs:
                raise ParameterError(
                    f"Run config sets {key!r} of {owner}, but the pipeline passes a step "
                    f"output there."
                )
            if key in params and params[key] != value:
                raise ParameterError(
                    f"Parameter {key!r} of {owner} is set both in the pipeline code "
                    f"({params[key]!r}) and in the run config ({value!r}); keep one."
                )
            params[key] = value

        for pname, p in step.signature.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise PipelineDefinitionError(f"Step {step.name!r} uses *args/**kwargs; name them.")
            if pname in inputs:
                continue
            if pname not in params:
                if p.default is inspect.Parameter.empty:
                    raise ParameterError(
                        f"Step {name!r} is missing parameter {pname!r}: pass it in the pipeline "
                        f"or set steps.{name}.parameters.{pname} in the run config."
                    )
                params[pname] = p.default
            annotation = step.hints.get(pname, p.annotation)
            dataset = as_dataset(owner, pname, params[pname], annotation)
            if dataset is not None:
                params[pname] = to_param(dataset)  # pinned when the run is planned
                continue
            check_param(owner, pname, params[pname], annotation)

        after_names = [h.invocation for h in _flatten_handles(after)]
        for up in after_names:
            if up not in self.invocations:
                raise PipelineDefinitionError(f"after= of {owner} names unknown step {up!r}.")

        self.invocations[name] = Invocation(
            name=name,
            step=step.name,
            source=step.source_ref,
            params=params,
            inputs=inputs,
            after=after_names,
            outputs=[o.name for o in step.outputs],
            enable_cache=_config_cache(config, step.options.enable_cache),
            retries=step.options.retries,
            retry_backoff_s=step.options.retry_backoff_s,
            cache_version=step.options.cache_version,
        )
        self.steps[name] = step
        outs = step.outputs
        if not outs:
            return InvocationHandle(name)
        if len(outs) == 1:
            return StepOutput(name, outs[0].name)
        return tuple(StepOutput(name, o.name) for o in outs)

    def check_config_covered(self) -> None:
        unknown = set(self._step_config) - set(self.invocations)
        if unknown:
            raise ConfigError(
                f"Run config configures step(s) {sorted(unknown)} that the pipeline does not "
                f"have. Its steps: {list(self.invocations)}."
            )


def _config_cache(config: Mapping[str, Any], default: bool | None) -> bool | None:
    value = config.get("enable_cache")
    return default if value is None else bool(value)


def _has_handles(value: Any) -> bool:
    if isinstance(value, InvocationHandle | StepOutput):
        return True
    return isinstance(value, tuple) and any(_has_handles(v) for v in value)


def _flatten_handles(value: Any) -> list[StepOutput | InvocationHandle]:
    if value is None:
        return []
    if isinstance(value, StepOutput | InvocationHandle):
        return [value]
    if isinstance(value, list | tuple):
        return [h for v in value for h in _flatten_handles(v)]
    raise PipelineDefinitionError(
        f"after= takes step outputs (or lists of them), got {type(value).__name__}."
    )
