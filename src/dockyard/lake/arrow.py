"""Arrow helpers any table flavor can share: data to write, schema checks, filters.

Pure functions over pyarrow objects (imported inside them: importing this module costs
nothing); no storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from dockyard.errors import LakeError, LakeSchemaError
from dockyard.lake.base import Filters

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["check_schema", "parse_filters", "to_arrow"]

_OPS = {"=", "==", "!=", "<", "<=", ">", ">=", "in", "not in"}


def to_arrow(data: Any, name: str) -> pa.Table | pa.RecordBatchReader:
    """Arrow data to write: tables as they are, streams of batches left streaming."""
    import pyarrow as pa

    if isinstance(data, pa.Table | pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if _is_dataframe(data):
        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    if isinstance(data, Iterable) and not isinstance(data, str | bytes | dict):
        batches = iter(data)
        first = next((b for b in map(_as_batches, batches) if b), None)
        if first is None:
            raise LakeError(f"Nothing to write to {name!r}: the batches are empty.")

        def stream() -> Iterator[pa.RecordBatch]:
            yield from first
            for item in batches:
                yield from _as_batches(item)

        return pa.RecordBatchReader.from_batches(first[0].schema, stream())
    raise LakeError(
        f"Cannot write a {type(data).__name__} to {name!r}: give a pandas DataFrame, a "
        "pyarrow Table or RecordBatch, or an iterable / RecordBatchReader of batches."
    )


def _as_batches(item: Any) -> list[pa.RecordBatch]:
    import pyarrow as pa

    if isinstance(item, pa.RecordBatch):
        return [item]
    if isinstance(item, pa.Table):
        return list(item.to_batches())
    if _is_dataframe(item):
        return list(pa.Table.from_pandas(item, preserve_index=False).to_batches())
    raise LakeError(
        f"Cannot write a {type(item).__name__} as a record batch: give pyarrow RecordBatches, "
        "Tables or pandas DataFrames."
    )


def _is_dataframe(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "columns")


def _family(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return _family(t.value_type)
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    return str(t).replace("large_", "")


def _compatible(table_type: pa.DataType, data_type: pa.DataType) -> bool:
    a, b = _family(table_type), _family(data_type)
    return a == b or (a == "float" and b == "int") or _is_null(data_type)


def _is_null(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_null(t))


def check_schema(name: str, table: pa.Schema, data: pa.Schema, mode: str) -> None:
    """A clear error naming every column that differs (delta-rs names one at best)."""
    extra = [f"{f.name} ({f.type})" for f in data if f.name not in table.names]
    missing = [f"{f.name} ({f.type})" for f in table if f.name not in data.names]
    changed = [
        f"{f.name} (table {f.type}, data {data.field(f.name).type})"
        for f in table
        if f.name in data.names and not _compatible(f.type, data.field(f.name).type)
    ]
    if not (extra or missing or changed):
        return
    parts = []
    if extra:
        parts.append(f"columns not in the table: {', '.join(extra)}")
    if missing:
        parts.append(f"columns missing from the data: {', '.join(missing)}")
    if changed:
        parts.append(f"different types: {', '.join(changed)}")
    fix = (
        'pass schema_mode="merge" to add new columns (missing ones become null)'
        if mode == "append"
        else 'pass schema_mode="overwrite" to replace the schema'
    )
    raise LakeSchemaError(
        f"The data does not match the schema of table {name!r}: {'; '.join(parts)}. "
        f"Fix the data, or {fix}."
    )


def parse_filters(name: str, filters: Filters, known: list[str]) -> tuple[Any, Any]:
    """``(pyarrow expression, DNF tuples or None)`` from either form, columns checked."""
    if filters is None or (isinstance(filters, list | tuple) and not filters):
        return None, None
    import pyarrow.compute as pc

    if isinstance(filters, pc.Expression):
        return filters, None
    if not isinstance(filters, list | tuple):
        raise LakeError(
            f"Bad filters for {name!r}: give a pyarrow expression or DNF tuples such as "
            f'[("region", "=", "EU")], got {type(filters).__name__}.'
        )
    groups = [list(filters)] if isinstance(filters[0], tuple) else [list(g) for g in filters]
    ors = None
    for group in groups:
        ands = None
        for term in group:
            if not (isinstance(term, tuple | list) and len(term) == 3):
                raise LakeError(
                    f"Bad filter {term!r} for {name!r}: each is (column, op, value), e.g. "
                    '("region", "=", "EU").'
                )
            column, op, value = term
            if column not in known:
                raise LakeSchemaError(
                    f"Unknown column {column!r} in the filter on {name!r}; its columns are "
                    f"{', '.join(known)}."
                )
            if op not in _OPS:
                raise LakeError(
                    f"Unknown filter operator {op!r} in {term!r}; use one of "
                    f"{', '.join(sorted(_OPS))}."
                )
            expr = _term(pc.field(column), op, value)
            ands = expr if ands is None else ands & expr
        if ands is not None:
            ors = ands if ors is None else ors | ands
    dnf = (
        [tuple(t) for t in groups[0]]
        if len(groups) == 1
        else [[tuple(t) for t in g] for g in groups]
    )
    return ors, dnf


def _term(field: Any, op: str, value: Any) -> Any:
    if op in ("=", "=="):
        return field == value
    if op == "!=":
        return field != value
    if op == "<":
        return field < value
    if op == "<=":
        return field <= value
    if op == ">":
        return field > value
    if op == ">=":
        return field >= value
    if op == "in":
        return field.isin(list(value))
    return ~field.isin(list(value))
