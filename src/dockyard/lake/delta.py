"""The ``delta`` lake: Delta Lake tables through the ``deltalake`` package (delta-rs).

One code path for a local folder and S3: delta-rs has its own object-store client, takes
credentials and the endpoint as ``storage_options``, and commits on S3 with conditional
writes (no DynamoDB, no catalog service). A table lives at ``<url>/<zone>/<name>`` with its
``_delta_log/``; file datasets (:mod:`dockyard.lake.files`) sit next to the tables.

Example (``.dockyard/config.yaml``)::

    lake:
      flavor: delta
      path: s3://bucket/lake
      storage_options: {AWS_ENDPOINT_URL: "http://127.0.0.1:9000", AWS_REGION: us-east-1}
      zones: [raw, curated, features, predictions]

``deltalake`` and ``pyarrow`` are imported when a table is first used, never at import.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from os import PathLike
from typing import IO, TYPE_CHECKING, Any, Literal

from dockyard.errors import DatasetNotFoundError, LakeError, LakeSchemaError
from dockyard.lake.arrow import check_schema, parse_filters, to_arrow
from dockyard.lake.base import Filters, Lake, WriteMode
from dockyard.lake.files import FILES_DIR, FileDatasets, version_ranges
from dockyard.lake.records import (
    DatasetDescription,
    DatasetInfo,
    DatasetKind,
    DatasetVersion,
    FileEntry,
)
from dockyard.lake.refs import check_name, check_zones
from dockyard.lake.storage import Storage, display_url, is_local, storage_failure

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pds
    from deltalake import DeltaTable

__all__ = ["DeltaLake"]

_DELTA_LOG = "_delta_log"
# Read from the environment when the stack gives no value (what the AWS tools read too),
# so a worker handed :attr:`DeltaLake.storage_options` needs no environment of its own.
_ENV_KEYS = {
    "AWS_ENDPOINT_URL": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "AWS_ACCESS_KEY_ID": ("AWS_ACCESS_KEY_ID",),
    "AWS_SECRET_ACCESS_KEY": ("AWS_SECRET_ACCESS_KEY",),
    "AWS_SESSION_TOKEN": ("AWS_SESSION_TOKEN",),
    "AWS_REGION": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "AWS_ALLOW_HTTP": ("AWS_ALLOW_HTTP",),
}
# delta-rs retries a failing request for up to 3 minutes by default: an unreachable
# endpoint would look like a hang. A few quick retries still ride out a blip.
_RETRY_DEFAULTS = {"max_retries": "3", "retry_timeout": "15s", "connect_timeout": "5s"}
_FIELD_REF = re.compile(r"FieldRef\.Name\(([^)]*)\)")


class DeltaLake(Lake):
    """Delta tables and file datasets under one URL.

    Args:
        path: a local folder (relative paths are under ``.dockyard/`` in a stack) or a URL
            ``s3://bucket/prefix`` (``gs://``, ``az://`` as delta-rs supports them).
        storage_options: delta-rs options for the URL (``AWS_ENDPOINT_URL``,
            ``AWS_ACCESS_KEY_ID``, ``AWS_ALLOW_HTTP``...); AWS variables of the
            environment fill what is not given.
        zones: the zones datasets may live in (default raw, curated, features,
            predictions).
    """

    flavor = "delta"

    def __init__(
        self,
        path: str,
        storage_options: dict[str, Any] | None = None,
        zones: Sequence[str] | None = None,
    ) -> None:
        self.zones = check_zones(zones)
        self.url = _root_url(str(path))
        self._options = _storage_options(self.url, storage_options or {})
        self._endpoint = self._options.get("AWS_ENDPOINT_URL")
        self._files = FileDatasets(Storage(self.url, _fsspec_options(self.url, self._options)))
        self._files.storage.endpoint = self._endpoint

    @property
    def storage_options(self) -> dict[str, str]:
        return dict(self._options)

    def __repr__(self) -> str:
        return f"DeltaLake({self.url!r})"

    # -- names ---------------------------------------------------------------------------

    def table_uri(self, name: str) -> str:
        check_name(name, self.zones)
        return f"{self.url}/{name}"

    def _kind(self, name: str) -> DatasetKind | None:
        folders = self._files.storage.listdir(self.table_uri(name))
        if _DELTA_LOG in folders:
            return "table"
        if FILES_DIR in folders:
            return "files"
        return None

    def exists(self, name: str) -> bool:
        return self._kind(name) is not None

    def latest_version(self, name: str) -> int:
        kind = self._kind(name)
        if kind == "files":
            return self._files.versions(name)[-1]
        if kind is None:
            raise self._not_found(name)
        return int(self._table(name).version())

    def _not_found(self, name: str) -> DatasetNotFoundError:
        zone = name.split("/", 1)[0]
        names = [d.name for d in self._list_zone(zone, versions=False)]
        there = (
            f"Datasets in {zone}: {', '.join(names)}."
            if names
            else f"Zone {zone} holds no datasets yet (write one, or dockyard lake import)."
        )
        return DatasetNotFoundError(
            f"Unknown dataset {name!r} in the lake at {self._where()}. {there}"
        )

    def _where(self) -> str:
        return self._files.storage.root if is_local(self.url) else display_url(self.url)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """delta-rs and storage failures as one line naming the lake."""
        from deltalake.exceptions import CommitFailedError, SchemaMismatchError

        try:
            yield
        except LakeError:
            raise
        except SchemaMismatchError as exc:
            raise LakeSchemaError(f"Cannot {what}: {_one_line(exc)}") from exc
        except CommitFailedError as exc:
            raise LakeError(
                f"Cannot {what}: a concurrent commit conflicts with this one "
                f"({_one_line(exc)}). Try again."
            ) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("pyarrow") and not isinstance(exc, OSError):
                raise
            raise storage_failure(self.url, exc, what, self._endpoint) from exc

    # -- tables: opening -----------------------------------------------------------------

    def _table(self, name: str, version: int | None = None) -> DeltaTable:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError

        uri = self.table_uri(name)
        try:
            with self._errors(f"open table {name!r}"):
                try:
                    return DeltaTable(uri, version=version, storage_options=self._options)
                except TableNotFoundError:
                    raise self._not_found_or_files(name) from None
                except DeltaError:
                    if version is None:
                        raise
                    latest = DeltaTable(uri, storage_options=self._options)
                    versions = _versions(latest)
                    if version in versions:
                        raise
                    raise DatasetNotFoundError(
                        f"Table {name!r} has no version {version}; its versions are "
                        f"{version_ranges(versions)} (dockyard lake history {name})."
                    ) from None
        except LakeError as exc:
            # A plain failure opening a folder that holds no table is a missing dataset;
            # a named failure (unreachable, not found, schema) is already the answer.
            if type(exc) is not LakeError:
                raise
            if self._kind(name) is None:
                raise self._not_found(name) from None
            raise

    def _not_found_or_files(self, name: str) -> LakeError:
        if self._files.exists(name):
            return LakeError(
                f"{name!r} is a file dataset, not a table: list it with lake.files({name!r}) "
                "or dockyard lake show."
            )
        return self._not_found(name)

    def _table_as_of(self, name: str, as_of: datetime) -> DeltaTable:
        return self._table(name, self.version_as_of(name, as_of))

    # -- tables: writing -----------------------------------------------------------------

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
        from deltalake import CommitProperties, write_deltalake

        if mode not in ("append", "overwrite"):
            raise LakeError(f"Unknown write mode {mode!r}: use 'append' or 'overwrite'.")
        if schema_mode not in (None, "merge", "overwrite"):
            raise LakeError(
                f"Unknown schema_mode {schema_mode!r}: use None, 'merge' or 'overwrite'."
            )
        if isinstance(partition_by, str):
            partition_by = [partition_by]
        kind = self._kind(name)
        if kind == "files":
            raise LakeError(f"{name!r} is a file dataset; add files with lake.put_files.")
        arrow = to_arrow(data, name)
        table = self._table(name) if kind == "table" else None
        if table is not None:
            existing = builtins.list(table.metadata().partition_columns)
            if (
                partition_by is not None
                and builtins.list(partition_by) != existing
                and mode == "append"
            ):
                raise LakeSchemaError(
                    f"Table {name!r} is partitioned by {existing or 'nothing'}, not "
                    f"{builtins.list(partition_by)}; leave partition_by out to append, or overwrite."
                )
            if schema_mode is None:
                check_schema(name, _arrow_schema(table), arrow.schema, mode)
        else:
            missing = [c for c in partition_by or () if c not in arrow.schema.names]
            if missing:
                raise LakeSchemaError(
                    f"Cannot partition {name!r} by {missing}: no such column in the data; "
                    f"its columns are {', '.join(arrow.schema.names)}."
                )
        # A token in the commit finds the version this write made, even when another
        # writer created the table at the same moment.
        token = uuid.uuid4().hex
        base = commit_properties or CommitProperties()
        commit = CommitProperties(
            custom_metadata={**(base.custom_metadata or {}), "dockyard.write_id": token},
            max_commit_retries=base.max_commit_retries,
            app_transactions=base.app_transactions,
        )
        with self._errors(f"write table {name!r}"):
            write_deltalake(
                table if table is not None else self.table_uri(name),
                arrow,
                mode=mode,
                partition_by=builtins.list(partition_by) if partition_by else None,
                schema_mode=schema_mode,
                storage_options=None if table is not None else self._options,
                commit_properties=commit,
            )
            if table is not None:
                return int(table.version())
            written = self._table(name)
            for entry in written.history(50):
                if entry.get("dockyard.write_id") == token:
                    return int(entry["version"])
            return int(written.version())  # pragma: no cover - 50 commits in between

    # -- tables: reading -----------------------------------------------------------------

    def _dataset(
        self,
        name: str,
        version: int | None,
        as_of: datetime | None,
        columns: Sequence[str] | None,
        filters: Filters,
    ) -> tuple[pds.Dataset, Any, builtins.list[str] | None]:
        if version is not None and as_of is not None:
            raise LakeError("Give version or as_of, not both.")
        table = self._table_as_of(name, as_of) if as_of is not None else self._table(name, version)
        schema = _arrow_schema(table)
        known = schema.names
        cols = None if columns is None else builtins.list(columns)
        unknown = [c for c in cols or () if c not in known]
        if unknown:
            raise LakeSchemaError(
                f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                f"in columns= for {name!r}; its columns are {', '.join(known)}."
            )
        expression, dnf = parse_filters(name, filters, known)
        with self._errors(f"read table {name!r}"):
            dataset = None
            if dnf is not None:
                # Per-file statistics and partition values from the Delta log: files the
                # filter cannot match are never opened. delta-rs refuses some value types;
                # pyarrow then still prunes by partition.
                with contextlib.suppress(Exception):
                    dataset = table.to_pyarrow_dataset(file_pruning_predicate=dnf)
            if dataset is None:
                dataset = table.to_pyarrow_dataset()
        return dataset, expression, cols

    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
    ) -> pa.Table:
        dataset, expression, cols = self._dataset(name, version, as_of, columns, filters)
        with self._scan_errors(name, dataset):
            # use_threads=False: scanned on Arrow's thread pools, a delta-rs dataset (its
            # filesystem calls back into Rust) makes the interpreter abort at exit about
            # every other time ("terminate called without an active exception"; delta-rs
            # #2184, polars #24169; deltalake 1.6 with pyarrow 26). Reading a 2 M-row table
            # stays well under a second here; batch scoring reads parquet files itself.
            return dataset.to_table(columns=cols, filter=expression, use_threads=False)

    def scan(
        self,
        name: str,
        *,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        filters: Filters = None,
        batch_size: int = 131_072,
    ) -> Iterator[pa.RecordBatch]:
        dataset, expression, cols = self._dataset(name, version, None, columns, filters)
        return self._batches(name, dataset, expression, cols, batch_size)

    def _batches(
        self,
        name: str,
        dataset: pds.Dataset,
        expression: Any,
        cols: builtins.list[str] | None,
        size: int,
    ) -> Iterator[pa.RecordBatch]:
        with self._scan_errors(name, dataset):
            yield from dataset.to_batches(  # use_threads=False: see read()
                columns=cols, filter=expression, batch_size=size, use_threads=False
            )

    @contextlib.contextmanager
    def _scan_errors(self, name: str, dataset: pds.Dataset) -> Iterator[None]:
        import pyarrow as pa

        try:
            with self._errors(f"read table {name!r}"):
                yield
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            match = _FIELD_REF.search(str(exc))
            if match:
                raise LakeSchemaError(
                    f"Unknown column {match.group(1)!r} in the filter on {name!r}; its "
                    f"columns are {', '.join(dataset.schema.names)}."
                ) from None
            raise LakeSchemaError(
                f"Cannot read {name!r} with this filter: {_one_line(exc)}"
            ) from exc

    # -- every dataset -------------------------------------------------------------------

    def history(self, name: str) -> builtins.list[DatasetVersion]:
        kind = self._kind(name)
        if kind == "files":
            return self._files.history(name)
        if kind is None:
            raise self._not_found(name)
        table = self._table(name)
        with self._errors(f"read the history of {name!r}"):
            entries = table.history()
        return sorted((_version_record(e) for e in entries), key=lambda v: v.version)

    def list(self, zone: str | None = None) -> builtins.list[DatasetInfo]:
        if zone is not None and zone not in self.zones:
            raise LakeError(f"Unknown lake zone {zone!r}. Zones: {', '.join(self.zones)}.")
        out: builtins.list[DatasetInfo] = []
        for z in [zone] if zone else self.zones:
            out.extend(self._list_zone(z, versions=True))
        return out

    def _list_zone(self, zone: str, *, versions: bool) -> builtins.list[DatasetInfo]:
        storage = self._files.storage
        out = []
        for short in storage.listdir(storage.path(zone)):
            name = f"{zone}/{short}"
            try:
                check_name(name, self.zones)
            except LakeError:
                continue  # not a dataset folder
            folders = storage.listdir(storage.path(zone, short))
            kind: DatasetKind
            if _DELTA_LOG in folders:
                kind = "table"
            elif FILES_DIR in folders:
                kind = "files"
            else:
                continue
            version = -1
            if versions:
                version = (
                    int(self._table(name).version())
                    if kind == "table"
                    else self._files.versions(name)[-1]
                )
            out.append(DatasetInfo(name, kind, version))
        return out

    def describe(self, name: str) -> DatasetDescription:
        kind = self._kind(name)
        if kind is None:
            raise self._not_found(name)
        history = self.history(name)
        versions = [h.version for h in history]
        updated = history[-1].timestamp if history else None
        if kind == "files":
            listed = self._files.files(name)
            return DatasetDescription(
                name=name,
                kind="files",
                url=self.table_uri(name),
                version=versions[-1],
                schema=[
                    ("path", "string"),
                    ("size", "int64"),
                    ("sha256", "string"),
                    ("content_type", "string"),
                ],
                partition_by=[],
                versions=versions,
                size_bytes=sum(f.size for f in listed),
                rows=len(listed),
                files=len(listed),
                updated=updated,
            )
        import pyarrow as pa

        table = self._table(name)
        with self._errors(f"describe {name!r}"):
            actions = pa.table(table.get_add_actions(flatten=True))
            partitions = builtins.list(table.metadata().partition_columns)
        sizes = actions.column("size_bytes").to_pylist() if actions.num_rows else []
        counts = actions.column("num_records").to_pylist() if actions.num_rows else []
        return DatasetDescription(
            name=name,
            kind="table",
            url=self.table_uri(name),
            version=int(table.version()),
            schema=[(f.name, str(f.type)) for f in _arrow_schema(table)],
            partition_by=partitions,
            versions=versions,
            size_bytes=int(sum(s or 0 for s in sizes)),
            rows=None if any(c is None for c in counts) else int(sum(counts)),
            files=actions.num_rows,
            updated=updated,
        )

    # -- file datasets -------------------------------------------------------------------

    def put_files(
        self,
        name: str,
        paths: str | PathLike[str] | Iterable[str | PathLike[str]],
        *,
        replace: bool = False,
    ) -> int:
        if self._kind(name) == "table":
            raise LakeError(f"{name!r} is a table; write it with lake.write.")
        return self._files.put(name, paths, replace=replace)

    def files(self, name: str, version: int | None = None) -> builtins.list[FileEntry]:
        self._check_files(name)
        return self._files.files(name, version)

    def open_file(self, name: str, path: str, version: int | None = None) -> IO[bytes]:
        self._check_files(name)
        return self._files.open(name, path, version)

    def _check_files(self, name: str) -> None:
        kind = self._kind(name)
        if kind == "table":
            raise LakeError(f"{name!r} is a table, not a file dataset: read it with lake.read.")
        if kind is None:
            raise self._not_found(name)


# -- helpers --------------------------------------------------------------------------------


def _root_url(path: str) -> str:
    if path.startswith("file://"):
        path = path.removeprefix("file://")
    if "://" in path:
        return path.rstrip("/")
    return os.path.abspath(os.path.expanduser(path))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _storage_options(url: str, given: dict[str, Any]) -> dict[str, str]:
    options = {str(k): _text(v) for k, v in given.items()}
    if not url.startswith(("s3://", "s3a://")):
        return options
    present = {k.upper() for k in options}
    for key, names in _ENV_KEYS.items():
        if key in present:
            continue
        for env in names:
            if os.environ.get(env):
                options[key] = os.environ[env]
                break
    endpoint = next((v for k, v in options.items() if k.upper() == "AWS_ENDPOINT_URL"), "")
    if endpoint.startswith("http://") and "AWS_ALLOW_HTTP" not in {k.upper() for k in options}:
        options["AWS_ALLOW_HTTP"] = "true"  # a plain-HTTP endpoint was asked for by name
    for key, value in _RETRY_DEFAULTS.items():
        options.setdefault(key, value)
    return {
        ("AWS_ENDPOINT_URL" if k.upper() == "AWS_ENDPOINT_URL" else k): v
        for k, v in options.items()
    }


def _fsspec_options(url: str, options: dict[str, str]) -> dict[str, Any]:
    """The same credentials and endpoint for s3fs (file datasets, listings)."""
    if not url.startswith(("s3://", "s3a://")):
        return {}
    upper = {k.upper(): v for k, v in options.items()}
    out: dict[str, Any] = {
        # Listings must see other writers' versions at once, not a cached folder listing.
        "use_listings_cache": False,
        "config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3}},
    }
    if "AWS_ACCESS_KEY_ID" in upper:
        out["key"] = upper["AWS_ACCESS_KEY_ID"]
    if "AWS_SECRET_ACCESS_KEY" in upper:
        out["secret"] = upper["AWS_SECRET_ACCESS_KEY"]
    if "AWS_SESSION_TOKEN" in upper:
        out["token"] = upper["AWS_SESSION_TOKEN"]
    if "AWS_ENDPOINT_URL" in upper:
        out["endpoint_url"] = upper["AWS_ENDPOINT_URL"]
    if "AWS_REGION" in upper:
        out["client_kwargs"] = {"region_name": upper["AWS_REGION"]}
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _arrow_schema(table: DeltaTable) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(table.schema().to_arrow())


def _versions(table: DeltaTable) -> list[int]:
    return sorted(int(e["version"]) for e in table.history())


def _version_record(entry: dict[str, Any]) -> DatasetVersion:
    metrics = entry.get("operationMetrics") or {}
    params = {str(k): str(v) for k, v in (entry.get("operationParameters") or {}).items()}
    skip = {"timestamp", "operation", "operationParameters", "operationMetrics", "version"}
    skip |= {"engineInfo", "clientVersion", "readVersion", "isBlindAppend"}
    params.update({str(k): str(v) for k, v in entry.items() if k not in skip})
    rows = metrics.get("num_added_rows", metrics.get("numOutputRows"))
    return DatasetVersion(
        version=int(entry["version"]),
        timestamp=datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC),
        operation=str(entry.get("operation", "?")),
        rows_added=None if rows is None else int(rows),
        parameters=params,
    )
