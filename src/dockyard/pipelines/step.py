"""``@step``: a plain function that becomes a node of a pipeline.

Called inside a ``@pipeline`` function, a step does not run: it adds an invocation to the
DAG being traced and returns handles to its future outputs. Called anywhere else, it is
the plain function, so steps stay unit-testable.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, overload

from dockyard.errors import PipelineDefinitionError

#: Keyword arguments of a step call that are options, not parameters.
RESERVED_CALL_ARGS = frozenset({"id", "after"})


@dataclass(frozen=True, slots=True)
class OutputSpec:
    name: str
    annotation: Any


@dataclass(frozen=True, slots=True)
class StepOptions:
    enable_cache: bool | None = None  # None: inherit from the pipeline / run
    retries: int = 0
    retry_backoff_s: float = 1.0
    cache_version: str = ""


def _parse_outputs(func: Callable[..., Any]) -> tuple[OutputSpec, ...]:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolved forward refs: fall back to the raw annotation
        hints = {"return": func.__annotations__.get("return", inspect.Signature.empty)}
    ret = hints.get("return", inspect.Signature.empty)
    if ret is inspect.Signature.empty:
        return (OutputSpec("output", Any),)
    if ret is None or ret is type(None):
        return ()
    if get_origin(ret) is Annotated:
        base, *meta = get_args(ret)
        name = next((m for m in meta if isinstance(m, str)), "output")
        return (OutputSpec(name, base),)
    if get_origin(ret) is tuple:
        args = get_args(ret)
        if args and args[-1] is not Ellipsis and len(args) > 1:
            specs = []
            for i, arg in enumerate(args):
                if get_origin(arg) is Annotated:
                    base, *meta = get_args(arg)
                    name = next((m for m in meta if isinstance(m, str)), f"output_{i}")
                    specs.append(OutputSpec(name, base))
                else:
                    specs.append(OutputSpec(f"output_{i}", arg))
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise PipelineDefinitionError(
                    f"Step {func.__name__!r} declares duplicate output names {names}; "
                    "give each Annotated[..., 'name'] a distinct name."
                )
            return tuple(specs)
    return (OutputSpec("output", ret),)


class Step:
    """A step definition. Create it with the :func:`step` decorator."""

    def __init__(self, func: Callable[..., Any], options: StepOptions) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.name: str = func.__name__
        self.options = options
        self.signature = inspect.signature(func)
        for reserved in RESERVED_CALL_ARGS & set(self.signature.parameters):
            raise PipelineDefinitionError(
                f"Step {self.name!r} has a parameter named {reserved!r}, which is reserved "
                f"for step options; rename it."
            )
        self.outputs: tuple[OutputSpec, ...] = _parse_outputs(func)
        from dockyard.pipelines.params import resolved_hints

        self.hints = resolved_hints(func)

    @property
    def source_ref(self) -> str:
        """Where a fresh process finds this step again: ``module:qualname`` or ``path:qualname``."""
        from dockyard.pipelines.loader import module_ref

        return f"{module_ref(self.func.__module__)}:{self.func.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dockyard.pipelines.tracing import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return self.func(*args, **kwargs)
        return tracer.add(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<Step {self.name} outputs={[o.name for o in self.outputs]}>"


@overload
def step(func: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *,
    enable_cache: bool | None = None,
    retries: int = 0,
    retry_backoff_s: float = 1.0,
    cache_version: str = "",
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    func: Callable[..., Any] | None = None,
    /,
    *,
    enable_cache: bool | None = None,
    retries: int = 0,
    retry_backoff_s: float = 1.0,
    cache_version: str = "",
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Turn a function into a pipeline step.

    Args:
        enable_cache: reuse outputs of an identical earlier execution (default: inherit
            from the pipeline, which defaults to on).
        retries: extra attempts after a failure, waiting ``retry_backoff_s`` doubled
            after each one.
        cache_version: bump to invalidate cached results by hand.

    Example::

        @step(retries=2)
        def split(df: pd.DataFrame, test_size: float = 0.2) -> tuple[
            Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]: ...
    """
    if retries < 0:
        raise PipelineDefinitionError(f"retries must be >= 0, got {retries}")
    options = StepOptions(enable_cache, retries, retry_backoff_s, str(cache_version))
    if func is not None:
        return Step(func, options)
    return lambda f: Step(f, options)
