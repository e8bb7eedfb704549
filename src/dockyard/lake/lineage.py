"""Which dataset versions a step read and wrote: recorded as they happen.

While a pipeline step runs, the pipelines context opens a :func:`recording` scope for
the step's stack. Inside it, :func:`dockyard.lake.open` hands out a
:class:`RecordingLake`: the same lake, which notes every table or file dataset version
read (``input``) or written (``output``), so lineage names ``(dataset, version)`` pairs
whichever lake flavor the stack uses. Outside a step nothing is recorded and the lake is
handed out as it is::

    with recording(stack) as uses:
        lake = dockyard.lake.open()          # a RecordingLake over the stack's lake
        lake.read("curated/customers")       # reads the latest version, say 3
    uses.items()                             # [("curated/customers", 3, "input")]

A read without a version reads the version that was latest when it started, and that
version is the one recorded (never a newer one committed meanwhile).
"""

from __future__ import annotations

import builtins
import contextvars
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from typing import IO, TYPE_CHECKING, Any, Literal

from dockyard.lake.base import Filters, Lake, WriteMode
from dockyard.lake.records import DatasetDescription, DatasetInfo, DatasetVersion, FileEntry

if TYPE_CHECKING:
    import pyarrow as pa

    from dockyard.stacks.stack import Stack

__all__ = ["DatasetUses", "RecordingLake", "recorded_lake", "recording"]

Direction = Literal["input", "output"]


@dataclass
class DatasetUses:
    """The ``(dataset, version, direction)`` triples of one scope, in first-use order."""

    _seen: dict[tuple[str, int, Direction], None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, version: int, direction: Direction) -> None:
        with self._lock:
            self._seen.setdefault((name, int(version), direction), None)

    def items(self) -> list[tuple[str, int, Direction]]:
        with self._lock:
            return list(self._seen)


@dataclass(frozen=True)
class _Scope:
    stack: Stack
    uses: DatasetUses


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "dockyard_lake_recording", default=None
)


@contextmanager
def recording(stack: Stack) -> Iterator[DatasetUses]:
    """Record the dataset versions read and written through ``stack``'s lake meanwhile."""
    scope = _Scope(stack, DatasetUses())
    token = _SCOPE.set(scope)
    try:
        yield scope.uses
    finally:
        _SCOPE.reset(token)


def recorded_lake(stack: Stack | None) -> tuple[Stack | None, DatasetUses | None]:
    """The stack to open (the recording one when ``stack`` is None) and where its uses go."""
    scope = _SCOPE.get()
    if scope is None or (stack is not None and stack is not scope.stack):
        return stack, None
    return scope.stack, scope.uses


class RecordingLake(Lake):
    """A lake that notes every dataset version read or written through it."""

    def __init__(self, lake: Lake, uses: DatasetUses) -> None:
        self.inner = lake
        self.uses = uses
        self.url = lake.url
        self.zones = lake.zones

    def __repr__(self) -> str:
        return f"RecordingLake({self.inner!r})"

    @property
    def storage_options(self) -> dict[str, str]:
        return self.inner.storage_options

    def _pinned(self, name: str, version: int | None, as_of: datetime | None = None) -> int:
        if version is not None:
            return version
        if as_of is not None:
            return self.inner.version_as_of(name, as_of)
        return self.inner.latest_version(name)

    # -- names: nothing read ---------------------------------------------------------------

    def table_uri(self, name: str) -> str:
        return self.inner.table_uri(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def latest_version(self, name: str) -> int:
        return self.inner.latest_version(name)

    def history(self, name: str) -> builtins.list[DatasetVersion]:
        return self.inner.history(name)

    def version_as_of(self, name: str, as_of: datetime) -> int:
        return self.inner.version_as_of(name, as_of)

    def list(self, zone: str | None = None) -> builtins.list[DatasetInfo]:
        return self.inner.list(zone)

    def describe(self, name: str) -> DatasetDescription:
        return self.inner.describe(name)

    # -- data: recorded --------------------------------------------------------------------

    def write(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "append",
        partition_by: Sequence[str] | None = None,
        schema_mode: Literal["merge", "overwrite"] | None = None,
        commit_properties: Any = None,
    ) -> int:
        version = self.inner.write(
            name,
            data,
            mode=mode,
            partition_by=partition_by,
            schema_mode=schema_mode,
            commit_properties=commit_properties,
        )
        self.uses.add(name, version, "output")
        return version

    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
    ) -> pa.Table:
        pinned = self._pinned(name, version, as_of)
        table = self.inner.read(name, version=pinned, columns=columns, filters=filters)
        self.uses.add(name, pinned, "input")
        return table

    def scan(
        self,
        name: str,
        *,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
        batch_size: int = 131_072,
    ) -> Iterator[pa.RecordBatch]:
        pinned = self._pinned(name, version)
        batches = self.inner.scan(
            name, version=pinned, columns=columns, filters=filters, batch_size=batch_size
        )
        self.uses.add(name, pinned, "input")
        return batches

    def put_files(
        self,
        name: str,
        paths: str | PathLike[str] | Iterable[str | PathLike[str]],
        *,
        replace: bool = False,
    ) -> int:
        version = self.inner.put_files(name, paths, replace=replace)
        self.uses.add(name, version, "output")
        return version

    def files(self, name: str, version: int | None = None) -> builtins.list[FileEntry]:
        pinned = self._pinned(name, version)
        entries = self.inner.files(name, pinned)
        self.uses.add(name, pinned, "input")
        return entries

    def open_file(self, name: str, path: str, version: int | None = None) -> IO[bytes]:
        pinned = self._pinned(name, version)
        handle = self.inner.open_file(name, path, pinned)
        self.uses.add(name, pinned, "input")
        return handle

    def close(self) -> None:
        """The stack owns the lake and closes it; a view has nothing of its own."""
