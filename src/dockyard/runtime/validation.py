"""Validation: client inputs checked against a signature and coerced into model inputs.

A :class:`Validator` turns what a delivery mode received (JSON rows or records, V2
tensors, a DataFrame, arrays, record batches of a lake table) into a validated *batch*
*before* the model sees it, with an error that names the column and the row::

    >>> v = Validator(Signature(inputs=[ColumnSpec("a"), ColumnSpec("b")]))
    >>> v.rows_to_batch([[1.0, 2.0]]).shape
    (1, 2)
    >>> v.rows_to_batch([[1.0, "x"]])
    Traceback (most recent call last):
    ...
    dockyard.errors.InvalidInputError: input 'b': expected FP64, got string 'x' at row 0

A validated batch is either a 2-D numpy array (when every column has the same numeric
type: the fast path, and what most scikit-learn models take) or a dict of 1-D arrays by
column name (mixed types, e.g. strings next to numbers), in signature order. The same
code serves HTTP, batch scoring and stream consumers.

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dockyard.errors import InvalidInputError
from dockyard.registry.signature import (
    DATATYPES,
    FLOAT_TYPES,
    INT_TYPES,
    NUMERIC_TYPES,
    ColumnSpec,
    Signature,
    is_frame,
)

if TYPE_CHECKING:
    Batch = np.ndarray | dict[str, np.ndarray]

__all__ = ["Batch", "Validator", "batch_rows", "concat_batches", "split_batch"]


class Validator:
    """Checks inputs against one signature and returns validated batches.

    Args:
        signature: what the model takes; an empty one accepts any numeric matrix (of
            ``n_features`` columns when that is set).
    """

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.inputs = signature.inputs
        self.n_features = signature.n_features
        self.column_names = signature.column_names
        self.matrix_dtype = signature.matrix_dtype
        self.is_matrix = signature.is_matrix
        self._flag_arrays: tuple[Any, Any] | None = None

    def _column(self, index: int) -> ColumnSpec:
        if self.inputs:
            return self.inputs[index]
        return ColumnSpec(f"x{index}", "FP64")

    def _describe_width(self) -> str:
        if self.inputs and len(self.inputs) <= 12:
            return f"{self.n_features} ({', '.join(self.column_names)})"
        return str(self.n_features)

    def _flags(self) -> tuple[Any, Any]:
        """Per-column allow_nan / allow_inf as boolean arrays (for matrix checks)."""
        if self._flag_arrays is None:
            self._flag_arrays = (
                np.array([c.allow_nan for c in self.inputs], dtype=bool),
                np.array([c.allow_inf for c in self.inputs], dtype=bool),
            )
        return self._flag_arrays

    # --- rows --------------------------------------------------------------

    def rows_to_batch(self, rows: Any) -> Batch:
        """Validate a list of rows (each a list of values in column order).

        Numbers are read the way numpy reads them: a JSON boolean among numbers counts
        as 1 or 0 (checking every value would cost the hot path a Python loop); rows of
        booleans only, strings, nulls and nested lists are refused precisely.

        Raises:
            InvalidInputError: the rows do not fit; the message names the column and row.
        """
        if isinstance(rows, np.ndarray):
            return self.array_to_batch(rows)
        if not isinstance(rows, list | tuple):
            raise InvalidInputError(
                f"expected a list of rows (a list of lists), got {_describe(rows)}"
            )
        if not rows:
            raise InvalidInputError("expected at least one row, got an empty list")
        if self.is_matrix:
            try:
                arr = np.asarray(rows)
            except (ValueError, TypeError):
                arr = None  # ragged or nested: the scan below says where
            if arr is not None and arr.ndim == 2 and arr.dtype.kind in "fiub":
                return self._check_matrix(arr)
        return self._scan_rows(rows)

    def array_to_batch(self, arr: Any) -> Batch:
        """Validate a 2-D numpy array (rows x features, in column order)."""
        arr = np.asarray(arr)
        if arr.ndim != 2:
            raise InvalidInputError(
                f"expected a 2-D array (rows x {self._describe_width()} features), "
                f"got shape {list(arr.shape)}"
            )
        if not self.is_matrix:
            if arr.shape[1] != self.n_features:
                raise InvalidInputError(self._width_message(arr.shape[1], None))
            return self.columns_to_batch({c.name: arr[:, i] for i, c in enumerate(self.inputs)})
        if arr.dtype.kind in "fiub":
            return self._check_matrix(arr)
        return self._scan_rows(arr.tolist())

    def _width_message(self, got: int, row: int | None) -> str:
        where = f" at row {row}" if row is not None else " per row"
        return f"expected {self._describe_width()} values{where}, got {got}"

    def _check_matrix(self, arr: np.ndarray) -> np.ndarray:
        width = self.n_features
        if arr.shape[0] == 0:
            raise InvalidInputError("expected at least one row, got none")
        if arr.shape[1] == 0:
            raise InvalidInputError("expected at least one value per row, got none")
        if width is not None and arr.shape[1] != width:
            raise InvalidInputError(self._width_message(arr.shape[1], None))
        target = self.matrix_dtype or "FP64"
        kind = arr.dtype.kind
        if kind == "b":
            raise InvalidInputError(
                f"input {self._column(0).name!r}: expected {target}, got boolean "
                f"{str(bool(arr[0, 0])).lower()} at row 0"
            )
        if target in INT_TYPES:
            if kind == "f":
                bad = ~np.isfinite(arr) | (arr != np.floor(arr))
                if bad.any():
                    r, c = (int(i) for i in np.argwhere(bad)[0])
                    raise InvalidInputError(
                        f"input {self._column(c).name!r}: expected {target}, got "
                        f"{_describe(float(arr[r, c]))} at row {r}"
                    )
            return arr.astype(DATATYPES[target], copy=False)
        out = arr.astype(DATATYPES[target], copy=False)
        if kind == "f" and not np.isfinite(out).all():
            self._check_finite(out)
        return out

    def _check_finite(self, arr: Any) -> None:
        if self.inputs:
            allow_nan, allow_inf = self._flags()
        else:
            allow_nan = allow_inf = np.zeros(arr.shape[1], dtype=bool)
        bad = (np.isnan(arr) & ~allow_nan) | (np.isinf(arr) & ~allow_inf)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            value = float(arr[r, c])
            raise InvalidInputError(_not_finite_message(self._column(c).name, value, r))

    def _scan_rows(self, rows: Sequence[Any]) -> Batch:
        """The slow path: check every value, to name the first bad one precisely."""
        width = self.n_features
        if width is None:
            first = rows[0]
            width = len(first) if isinstance(first, list | tuple) else 0
        columns: list[list[Any]] = [[] for _ in range(width)]
        for r, row in enumerate(rows):
            if not isinstance(row, list | tuple):
                hint = " (one row is written [[v1, v2, ...]])" if r == 0 else ""
                raise InvalidInputError(
                    f"expected a list of rows (a list of lists), but row {r} is "
                    f"{_describe(row)}{hint}"
                )
            if len(row) != width:
                raise InvalidInputError(self._width_message(len(row), r))
        for c in range(width):
            spec = self._column(c)
            columns[c] = [row[c] for row in rows]
            for r, value in enumerate(columns[c]):
                _check_value(value, spec, r)
        if not self.inputs:
            arr = np.column_stack(
                [_coerce_column(col, self._column(i)) for i, col in enumerate(columns)]
            )
            return self._check_matrix(arr)
        return self.columns_to_batch({spec.name: columns[i] for i, spec in enumerate(self.inputs)})

    # --- columns and records ----------------------------------------------

    def records_to_batch(self, records: Any) -> Batch:
        """Validate a list of records (dicts by column name). Extra keys are ignored."""
        if not isinstance(records, list | tuple):
            raise InvalidInputError(
                f"expected a list of records (objects by column name), got {_describe(records)}"
            )
        if not records:
            raise InvalidInputError("expected at least one record, got an empty list")
        if not self.inputs:
            raise InvalidInputError(
                "this model's signature names no columns: send rows ('instances') instead of records"
            )
        columns: dict[str, list[Any]] = {}
        for r, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidInputError(
                    f"record {r}: expected an object by column name, got {_describe(record)}"
                )
        for spec in self.inputs:
            try:
                columns[spec.name] = [record[spec.name] for record in records]
            except KeyError:
                r = next(i for i, rec in enumerate(records) if spec.name not in rec)
                raise InvalidInputError(f"missing input {spec.name!r} at record {r}") from None
        return self.columns_to_batch(columns)

    def columns_to_batch(self, columns: Mapping[str, Any]) -> Batch:
        """Validate columns (1-D lists or arrays by name, all of one length)."""
        if not self.inputs:
            raise InvalidInputError(
                "this model's signature names no columns: send one 2-D tensor or rows"
            )
        arrays: dict[str, Any] = {}
        length: int | None = None
        first = ""
        for spec in self.inputs:
            if spec.name not in columns:
                raise InvalidInputError(
                    f"missing input {spec.name!r}; the model takes {', '.join(self.column_names)}"
                )
            values = _coerce_column(columns[spec.name], spec)
            if length is None:
                length, first = len(values), spec.name
            elif len(values) != length:
                raise InvalidInputError(
                    f"input {spec.name!r} has {len(values)} rows but input {first!r} has {length}"
                )
            arrays[spec.name] = values
        if not length:
            raise InvalidInputError("expected at least one row, got none")
        if self.is_matrix:
            return np.column_stack([arrays[n] for n in self.column_names])
        return arrays

    def frame_to_batch(self, frame: Any) -> Batch:
        """Validate a pandas DataFrame (columns by name; extra columns are ignored)."""
        missing = [n for n in self.column_names if n not in frame.columns]
        if not self.inputs or missing:
            if len(frame.columns) == self.n_features or not self.inputs:
                return self.array_to_batch(frame.to_numpy())
            raise InvalidInputError(
                f"missing input {missing[0]!r}; the model takes {', '.join(self.column_names)}"
            )
        return self.columns_to_batch({n: frame[n].to_numpy() for n in self.column_names})

    def to_batch(self, data: Any) -> Batch:
        """Validate any supported input: DataFrame, 2-D array, list of rows or records."""
        if is_frame(data):
            return self.frame_to_batch(data)
        if isinstance(data, np.ndarray):
            return self.array_to_batch(data)
        if isinstance(data, Mapping):
            return self.columns_to_batch(data)
        if isinstance(data, list | tuple) and data and isinstance(data[0], Mapping):
            return self.records_to_batch(data)
        return self.rows_to_batch(data)


# --- batches ---------------------------------------------------------------------------


def batch_rows(batch: Batch) -> int:
    """The number of rows in a validated batch."""
    if isinstance(batch, dict):
        return len(next(iter(batch.values())))
    return int(batch.shape[0])


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Join validated batches of one signature into one."""
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    if isinstance(first, dict):
        return {k: np.concatenate([b[k] for b in batches if isinstance(b, dict)]) for k in first}
    return np.concatenate([b for b in batches if not isinstance(b, dict)])


def split_batch(result: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut a model's output (first axis = rows) back into pieces of ``sizes`` rows."""
    out = []
    start = 0
    for n in sizes:
        out.append(result[start : start + n])
        start += n
    return out


# --- values ----------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _not_finite_message(name: str, value: float, row: int) -> str:
    what = "NaN" if math.isnan(value) else ("infinity" if value > 0 else "-infinity")
    flag = "allow_nan" if math.isnan(value) else "allow_inf"
    return (
        f"input {name!r}: {what} is not allowed at row {row} "
        f"(the signature forbids it; set {flag} on the column to accept it)"
    )


def _check_value(value: Any, spec: ColumnSpec, row: int) -> None:
    dtype = spec.dtype
    ok: bool
    if value is None:
        ok = spec.allow_nan and dtype not in INT_TYPES and dtype != "BOOL"
        if not ok:
            raise InvalidInputError(
                f"input {spec.name!r}: expected {dtype}, got null at row {row}"
                + (
                    " (the signature does not allow missing values)"
                    if dtype in FLOAT_TYPES | {"BYTES"}
                    else ""
                )
            )
        return
    if dtype in FLOAT_TYPES:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if (
            ok
            and isinstance(value, float)
            and (
                (math.isnan(value) and not spec.allow_nan)
                or (math.isinf(value) and not spec.allow_inf)
            )
        ):
            raise InvalidInputError(_not_finite_message(spec.name, value, row))
    elif dtype in INT_TYPES:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    elif dtype == "BOOL":
        ok = isinstance(value, bool)
    else:  # BYTES
        ok = isinstance(value, str | bytes)
    if not ok:
        raise InvalidInputError(
            f"input {spec.name!r}: expected {dtype}, got {_describe(value)} at row {row}"
        )


def _coerce_column(values: Any, spec: ColumnSpec) -> Any:
    """One column as a typed 1-D array, checked against ``spec``."""
    target = DATATYPES[spec.dtype]
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise InvalidInputError(
                f"input {spec.name!r}: expected one value per row (shape [N] or [N, 1]), "
                f"got shape {list(values.shape)}"
            )
        kind = values.dtype.kind
        if spec.dtype in FLOAT_TYPES and kind in "fiu":
            out = values.astype(target, copy=False)
            if kind == "f" and not np.isfinite(out).all():
                bad = (np.isnan(out) & (not spec.allow_nan)) | (
                    np.isinf(out) & (not spec.allow_inf)
                )
                if bad.any():
                    r = int(np.argmax(bad))
                    raise InvalidInputError(_not_finite_message(spec.name, float(out[r]), r))
            return out
        if spec.dtype in INT_TYPES and kind in "iu":
            return values.astype(target, copy=False)
        if spec.dtype == "BOOL" and kind == "b":
            return values
        if spec.dtype == "BYTES" and kind in "US":
            return values.astype(object)
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise InvalidInputError(
            f"input {spec.name!r}: expected a list of values, got {_describe(values)}"
        )
    if values and isinstance(values[0], list):  # shape [N, 1]
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]
    if spec.dtype in NUMERIC_TYPES:
        try:
            fast = np.asarray(values)
        except (ValueError, TypeError):
            fast = None
        if (
            fast is not None
            and fast.ndim == 1
            and fast.dtype.kind in "fiu"
            and (spec.dtype in FLOAT_TYPES or fast.dtype.kind != "f")
        ):
            return _coerce_column(fast, spec)
    for r, value in enumerate(values):
        _check_value(value, spec, r)
    if spec.dtype == "BYTES":
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
        return arr
    try:
        if spec.dtype in FLOAT_TYPES:
            return np.array([math.nan if v is None else v for v in values], dtype=target)
        return np.array(values, dtype=target)
    except (OverflowError, ValueError):
        r, bad = next(
            ((i, v) for i, v in enumerate(values) if not _fits(v, target)), (0, values[0])
        )
        raise InvalidInputError(
            f"input {spec.name!r}: {_describe(bad)} at row {r} is out of range for {spec.dtype}"
        ) from None


def _fits(value: Any, target: str) -> bool:
    try:
        np.array([value], dtype=target)
    except (OverflowError, ValueError):
        return False
    return True
