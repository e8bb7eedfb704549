"""The ``Lake`` port: versioned datasets in zones, tables and file datasets.

A lake is a URL (a local folder, ``s3://bucket/prefix``) holding datasets named
``ZONE/NAME``. A table is read and written as Arrow data; a file dataset is a versioned
listing of files over content-addressed objects. Every write returns the new version,
and every read can ask for an older one::

    lake = dockyard.lake.open()                                # the active stack's lake
    v = lake.write("raw/customers", df, partition_by=["region"])
    lake.read("raw/customers", filters=[("region", "=", "EU")]).to_pandas()
    for batch in lake.scan("raw/customers", columns=["id"], batch_size=65_536):
        ...
    lake.history("raw/customers")[-1].version == v

    lake.put_files("raw/images", "photos/")                    # -> version 0
    [f.path for f in lake.files("raw/images")]
    lake.open_file("raw/images", "cats/1.jpg").read()

A new table format plugs in as another flavor in the ``dockyard.lakes`` entry-point
group implementing this class (``flavor: iceberg`` in the stack's ``lake``).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from os import PathLike
from typing import IO, TYPE_CHECKING, Any, Literal

from dockyard.errors import DatasetNotFoundError
from dockyard.lake.records import DatasetDescription, DatasetInfo, DatasetVersion, FileEntry

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Filters", "Lake", "WriteMode"]

WriteMode = Literal["append", "overwrite"]
#: A pyarrow compute Expression, or DNF tuples: ``[("region", "=", "EU")]`` (AND) or a
#: list of such lists (OR of ANDs).
Filters = Any


class Lake(ABC):
    """Datasets in zones. Adapters implement every method; names are ``ZONE/NAME``.

    Attributes:
        url: the lake's root, a local absolute path or ``s3://bucket/prefix``.
        zones: the zones datasets may live in.
    """

    url: str
    zones: tuple[str, ...]

    @property
    @abstractmethod
    def storage_options(self) -> dict[str, str]:
        """What a table reader needs for :attr:`url` (endpoint, keys, ...), as the
        ``deltalake`` package takes them; empty for a local folder."""

    # -- names ---------------------------------------------------------------------------

    @abstractmethod
    def table_uri(self, name: str) -> str:
        """The URI of dataset ``name``'s folder (checks the name and zone)."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether ``name`` holds a table or a file dataset."""

    @abstractmethod
    def latest_version(self, name: str) -> int:
        """The newest version of ``name`` (raises DatasetNotFoundError when missing)."""

    # -- tables --------------------------------------------------------------------------

    @abstractmethod
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
        """Write a pandas DataFrame, Arrow table, record batch, or an iterable or reader of
        record batches (streamed) to table ``name``; returns the new version."""

    @abstractmethod
    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
    ) -> pa.Table:
        """Table ``name`` (latest, a ``version``, or as it was at ``as_of``)."""

    @abstractmethod
    def scan(
        self,
        name: str,
        *,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
        batch_size: int = 131_072,
    ) -> Iterator[pa.RecordBatch]:
        """Stream table ``name`` in record batches, reading only the files the filters
        can match (partition values and per-file statistics)."""

    # -- every dataset ------------------------------------------------------------------

    @abstractmethod
    def history(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of ``name``, oldest first."""

    def version_as_of(self, name: str, as_of: datetime) -> int:
        """The newest version of ``name`` committed at or before ``as_of`` (naive: UTC).

        Raises:
            DatasetNotFoundError: ``name`` is missing, or had no version yet at ``as_of``.
        """
        when = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        history = self.history(name)
        before = [h for h in history if h.timestamp <= when]
        if not before:
            first = history[0].timestamp.isoformat() if history else "never"
            raise DatasetNotFoundError(
                f"Table {name!r} did not exist at {when.isoformat()}: its first version is "
                f"from {first}."
            )
        return before[-1].version

    @abstractmethod
    def list(self, zone: str | None = None) -> builtins.list[DatasetInfo]:
        """The datasets of one zone, or of all, sorted by name."""

    @abstractmethod
    def describe(self, name: str) -> DatasetDescription:
        """Schema, partitions, versions, size and rows of ``name``."""

    # -- file datasets -------------------------------------------------------------------

    @abstractmethod
    def put_files(
        self,
        name: str,
        paths: str | PathLike[str] | Iterable[str | PathLike[str]],
        *,
        replace: bool = False,
    ) -> int:
        """Add files (or every file under folders) as a new version of file dataset
        ``name``; returns the version. The new listing is the previous one plus these
        files (same path: the new file wins), or only these with ``replace=True``."""

    @abstractmethod
    def files(self, name: str, version: int | None = None) -> builtins.list[FileEntry]:
        """The listing of one version (latest by default), sorted by path."""

    @abstractmethod
    def open_file(self, name: str, path: str, version: int | None = None) -> IO[bytes]:
        """One file of a file dataset's version, opened for binary reading."""

    def close(self) -> None:  # noqa: B027 - optional hook: most adapters hold nothing
        """Release what the lake holds (connections); called by ``Stack.close``."""
