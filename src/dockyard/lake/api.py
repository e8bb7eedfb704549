"""Open the lake of a stack."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from dockyard.errors import StackError

if TYPE_CHECKING:
    from typing import Any

    from dockyard.lake.base import Lake
    from dockyard.lake.refs import DatasetRef
    from dockyard.stacks.stack import Stack

__all__ = ["head", "open", "ref"]


def open(stack: Stack | None = None) -> Lake:
    """The lake of ``stack`` (default: the active stack), built on first use.

    Inside a pipeline step the default is the step's stack, and the lake handed out
    records every dataset version the step reads and writes (its lineage).

    Example::

        lake = dockyard.lake.open()
        lake.write("raw/customers", df)
    """
    from dockyard.lake.base import Lake
    from dockyard.lake.lineage import RecordingLake, recorded_lake

    stack, uses = recorded_lake(stack)
    if stack is None:
        from dockyard.stacks.stack import load_stack

        stack = load_stack()
    lake = stack.component("lake")
    if not isinstance(lake, Lake):  # pragma: no cover - build_component checks the port
        raise StackError(f"The stack's lake is a {builtins.type(lake).__name__}, not a Lake.")
    return lake if uses is None else RecordingLake(lake, uses)


def ref(dataset: str | DatasetRef) -> DatasetRef:
    """A dataset a step reads, as a step parameter: ``lake.ref("curated/customers")``.

    Unpinned, it is resolved to the dataset's latest version when the run is planned;
    ``"curated/customers@3"`` pins version 3. The version is part of the step's cache key
    (a new version is a cache miss, the same version a hit), and the run's lineage names
    it. Inside the step the parameter is the pinned :class:`DatasetRef`::

        @step
        def train(data: DatasetRef = lake.ref("curated/customers")) -> Model:
            df = dockyard.lake.open().read(data.name, version=data.version).to_pandas()

    Raises:
        LakeError: not ``[lake://]ZONE/NAME[@VERSION]``.
    """
    from dockyard.lake.refs import DatasetRef, parse_ref

    return dataset if isinstance(dataset, DatasetRef) else parse_ref(dataset)


def head(lake: Lake, name: str, rows: int = 20, version: int | None = None) -> list[dict[str, Any]]:
    """The first ``rows`` rows of table ``name`` (one version, default the latest), read
    a batch at a time so a large table is never read whole (``lake head``, the dashboard).
    """
    got: builtins.list[dict[str, Any]] = []
    # Closed here, not whenever it is collected: a scan left half-read keeps Arrow's
    # read-ahead threads, and one still alive when the interpreter exits aborts the
    # process ("terminate called without an active exception", seen after `lake head`).
    batches = lake.scan(name, version=version, batch_size=max(rows, 1024))
    try:
        for batch in batches:
            got.extend(batch.slice(0, rows - len(got)).to_pylist())
            if len(got) >= rows:
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return got
