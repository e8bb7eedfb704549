"""What the lake returns: frozen records, no storage objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["DatasetDescription", "DatasetInfo", "DatasetKind", "DatasetVersion", "FileEntry"]

#: A dataset is a Delta table or a file dataset (a versioned listing of files).
DatasetKind = Literal["table", "files"]


@dataclass(frozen=True)
class DatasetVersion:
    """One committed version of a dataset.

    Attributes:
        version: the version number (0 for the first write).
        timestamp: when it was committed (UTC).
        operation: ``WRITE``, ``CREATE TABLE``, ``MERGE``, ... for tables; ``PUT FILES``
            for file datasets.
        rows_added: rows (tables) or files (file datasets) the commit added, if known.
        parameters: the operation's parameters and the commit's custom metadata.
    """

    version: int
    timestamp: datetime
    operation: str
    rows_added: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as ``lake ls`` lists it."""

    name: str
    kind: DatasetKind
    version: int


@dataclass(frozen=True)
class DatasetDescription:
    """A dataset in full, as ``lake show`` prints it.

    Attributes:
        schema: ``(column, type)`` pairs for tables; the listing's fields for files.
        partition_by: the partition columns of a table (empty for files).
        versions: every version number still readable, oldest first.
        size_bytes: bytes of the latest version's data files (or listed files).
        rows: rows of the latest version (or files listed), None when unknown.
        files: data files of the latest version (or files listed).
    """

    name: str
    kind: DatasetKind
    url: str
    version: int
    schema: list[tuple[str, str]]
    partition_by: list[str]
    versions: list[int]
    size_bytes: int
    rows: int | None
    files: int
    updated: datetime | None = None


@dataclass(frozen=True)
class FileEntry:
    """One file of a file dataset's version: its path in the dataset and its object.

    Attributes:
        path: the file's path inside the dataset (POSIX, relative: ``cats/1.jpg``).
        size: bytes.
        sha256: the content hash; the object is stored once under ``_objects/``.
        content_type: the MIME type guessed from the name (``image/jpeg``).
    """

    path: str
    size: int
    sha256: str
    content_type: str
