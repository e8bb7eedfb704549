"""Lake datasets as step parameters: declared when traced, pinned when planned.

A step declares a dataset it reads with a parameter whose value is a
:class:`~dockyard.lake.DatasetRef` (``dockyard.lake.ref("curated/customers")``), or text
(``"curated/customers@3"``) given to a parameter annotated ``DatasetRef``. In the plan the
parameter is a JSON marker, ``{"$dataset": "lake://curated/customers"}``; when the run is
planned on a stack, :func:`pin_datasets` fixes every unpinned one to the dataset's latest
version, so the version is part of the step's cache key (a new version is a cache miss),
every process running a step of the run reads the same version, and the run records it.
The step function receives the pinned ``DatasetRef``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dockyard.errors import LakeError, ParameterError
from dockyard.lake.refs import DatasetRef, parse_ref
from dockyard.metadata.base import DatasetUse

if TYPE_CHECKING:
    from dockyard.pipelines.plan import RunPlan
    from dockyard.stacks.stack import Stack

__all__ = ["MARKER", "as_dataset", "declared_uses", "pin_datasets", "step_arguments"]

#: The key of a dataset parameter's JSON form in a plan.
MARKER = "$dataset"


def _wants_dataset(annotation: Any) -> bool:
    if annotation is DatasetRef:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_wants_dataset(arg) for arg in typing.get_args(annotation))
    return False


def _marker_ref(value: Any) -> str | None:
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(MARKER), str):
        return str(value[MARKER])
    return None


def as_dataset(owner: str, name: str, value: Any, annotation: Any) -> DatasetRef | None:
    """``value`` as a dataset reference when it is one (or text for a ``DatasetRef``
    parameter, or a plan's marker), else None.

    Raises:
        ParameterError: text for a ``DatasetRef`` parameter that is not a reference.
    """
    if isinstance(value, DatasetRef):
        return value
    text = _marker_ref(value)
    if text is None and isinstance(value, str) and _wants_dataset(annotation):
        text = value
    if text is None:
        return None
    try:
        return parse_ref(text)
    except LakeError as exc:
        raise ParameterError(f"Parameter {name!r} of {owner}: {exc}") from None


def to_param(ref: DatasetRef) -> dict[str, str]:
    """The plan's JSON form of a dataset parameter."""
    return {MARKER: str(ref)}


def pin_datasets(plan: RunPlan, stack: Stack) -> None:
    """Fix every unpinned dataset parameter of ``plan`` to its latest version on
    ``stack``'s lake (one lookup per dataset: all steps of the run read the same version).

    Raises:
        DatasetNotFoundError / LakeError: a dataset (or its zone) does not exist; the
            message names the step and parameter.
    """
    latest: dict[str, int] = {}
    for inv in plan.invocations.values():
        for param, value in inv.params.items():
            text = _marker_ref(value)
            if text is None:
                continue
            ref = parse_ref(text)
            if ref.version is None:
                if ref.name not in latest:
                    latest[ref.name] = _latest(stack, ref, inv.name, param)
                ref = DatasetRef(ref.name, latest[ref.name])
            inv.params[param] = to_param(ref)


def _latest(stack: Stack, ref: DatasetRef, step: str, param: str) -> int:
    from dockyard.lake.api import open as open_lake

    try:
        return open_lake(stack).latest_version(ref.name)
    except LakeError as exc:
        raise type(exc)(
            f"Step {step!r} reads {ref} (parameter {param!r}), which cannot be resolved: {exc}"
        ) from None


def step_arguments(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a step function gets: dataset markers become ``DatasetRef``."""
    out = dict(params)
    for key, value in params.items():
        text = _marker_ref(value)
        if text is not None:
            out[key] = parse_ref(text)
    return out


def declared_uses(params: Mapping[str, Any]) -> list[DatasetUse]:
    """The pinned datasets a step declares it reads, as lineage."""
    uses = []
    for value in params.values():
        text = _marker_ref(value)
        if text is not None:
            ref = parse_ref(text)
            if ref.version is not None:
                uses.append(DatasetUse(ref.name, ref.version, "input"))
    return uses
