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

**What a value must be** (else :class:`~dockyard.errors.InvalidInputError`, a 400 over
HTTP): of its column's type (a JSON boolean is not a number, a list is not a string), in
its type's range (``INT8`` -128..127...), not NaN or infinite unless the column allows it
(``allow_nan``, ``allow_inf``), and *in the finite range a model can compute with*: an
``FP64`` value beyond ±1e150 (:data:`MAX_MAGNITUDE`) is refused in a column that forbids
infinity, because the arithmetic models apply to features overflows to infinity from
there (squares in variances, distances and polynomial terms reach 1e300; a sum of them
over a few thousand features, or one product with a coefficient over 1e8, passes FP64's
1.8e308), so the model would meet the infinity the signature forbids: ``1.79e308``
through a ``StandardScaler`` is one. That is the client's input, answered 400 before the
model runs, never a 500 counted against the version. ``FP32``/``FP16`` values must fit
their type (±3.4e38, ±65504). A column that allows infinity accepts any magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain
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
    from dockyard.runtime.v2 import Tensor

    Batch = np.ndarray | dict[str, np.ndarray]

__all__ = [
    "MAX_MAGNITUDE",
    "Batch",
    "Validator",
    "batch_rows",
    "concat_batches",
    "float_limit",
    "split_batch",
]

#: The largest magnitude of a finite value in an ``FP64`` column that forbids infinity
#: (see the module docstring: arithmetic on larger values overflows to infinity).
MAX_MAGNITUDE = 1e150

#: What each floating type accepts in a column that forbids infinity.
_FLOAT_LIMITS = {"FP64": MAX_MAGNITUDE, "FP32": float(np.finfo(np.float32).max), "FP16": 65504.0}

_COMPATIBLE = {
    "float": {"float", "int"},
    "int": {"int"},
    "BOOL": {"BOOL"},
    "BYTES": {"BYTES"},
}


def float_limit(spec: ColumnSpec) -> float:
    """The largest magnitude a finite value of the float column ``spec`` may have."""
    return math.inf if spec.allow_inf else _FLOAT_LIMITS[spec.dtype]


def _fast_limit(spec: ColumnSpec) -> float:
    """What the fast paths let through: values beyond it take the slow path, which also
    casts values an ``allow_inf`` column accepts past FP32/FP16 to infinity quietly."""
    return float_limit(spec) if spec.dtype == "FP64" else _FLOAT_LIMITS[spec.dtype]


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
        target = self.matrix_dtype or "FP64"
        self._dtype = np.dtype(DATATYPES[target])  # of matrix batches
        # The matrix fast path's range check: one bound when every column shares it (the
        # common case: none allows infinity), else one per column.
        self._limit: Any = None
        if self.is_matrix and target in FLOAT_TYPES:
            limits = [_fast_limit(c) for c in self.inputs] or [_FLOAT_LIMITS[target]]
            same = all(v == limits[0] for v in limits)
            self._limit = limits[0] if same else np.array(limits)

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

    def rows_to_batch(self, rows: Any, *, scan_booleans: bool = True) -> Batch:
        """Validate a list of rows (each a list of values in column order).

        Args:
            rows: the rows, e.g. parsed from JSON.
            scan_booleans: look for booleans among numbers (numpy would read them as 1
                and 0). A caller that knows there are none skips the scan (~55 ns a
                value): the HTTP app, when the JSON body holds no ``true``/``false``.

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
            if (
                arr is not None
                and arr.ndim == 2
                and arr.dtype.kind in "fiub"
                and not (
                    scan_booleans
                    and arr.dtype.kind != "b"
                    and bool in map(type, chain.from_iterable(rows))
                )
            ):
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
        dtype = self._dtype
        if target in INT_TYPES:
            if kind == "f":
                low, high = _float_bounds(target)
                bad = ~np.isfinite(arr) | (arr != np.floor(arr)) | (arr <= low) | (arr >= high)
                if bad.any():
                    r, c = (int(i) for i in np.argwhere(bad)[0])
                    raise InvalidInputError(
                        _int_message(self._column(c).name, float(arr[r, c]), r, target)
                    )
            elif arr.dtype != dtype and not np.can_cast(arr.dtype, dtype):
                _check_int_range(arr, target, self._column)
            return arr.astype(dtype, copy=False)
        if kind == "f" or (kind in "iu" and target == "FP16"):  # wider ints fit FP32/FP64
            values = arr if kind == "f" else arr.astype(np.float64)
            limit = self._limit
            # Two reductions for NaN, infinities and magnitudes over the limit (NaN
            # propagates through max/min and compares false): as cheap as
            # np.isfinite(...).all(), ~2 us on a row of 30, and no temporary array (abs()
            # of a 100,000 x 30 batch cost 12 ms of a 34 ms check in batch scoring).
            fits = (
                # float(): 1e150 is no float32
                float(max(values.max(), -values.min())) <= limit
                if isinstance(limit, float) and values.size
                else bool((np.abs(values) <= limit).all())
                if values.size
                else True
            )
            if not fits:
                return self._check_floats(values, dtype, target)
        return arr.astype(dtype, copy=False)

    def _check_floats(self, arr: np.ndarray, dtype: np.dtype[Any], target: str) -> np.ndarray:
        """The slow path of a float matrix: name the first value out of range, if any."""
        if self.inputs:
            allow_nan, allow_inf = self._flags()
        else:
            allow_nan = allow_inf = np.zeros(arr.shape[1], dtype=bool)
        wide = arr.astype(np.float64, copy=False)
        nan, inf = np.isnan(wide), np.isinf(wide)
        big = (np.abs(wide) > _FLOAT_LIMITS[target]) & ~inf
        bad = (nan & ~allow_nan) | ((inf | big) & ~allow_inf)
        if bad.any():
            r, c = (int(i) for i in np.argwhere(bad)[0])
            value = float(arr[r, c])
            name = self._column(c).name
            if math.isfinite(value):
                raise InvalidInputError(_range_message(name, value, r, target))
            raise InvalidInputError(_not_finite_message(name, value, r))
        with np.errstate(over="ignore"):  # allowed: beyond FP32/FP16 becomes infinity
            return arr.astype(dtype, copy=False)

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
        return self.columns_to_batch(
            {spec.name: columns[i] for i, spec in enumerate(self.inputs)}, scan_booleans=False
        )

    # --- columns and records ----------------------------------------------

    def records_to_batch(self, records: Any, *, scan_booleans: bool = True) -> Batch:
        """Validate a list of records (dicts by column name). Extra keys are ignored.

        ``scan_booleans``: as for :meth:`rows_to_batch`.
        """
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
        return self.columns_to_batch(columns, scan_booleans=scan_booleans)

    def columns_to_batch(self, columns: Mapping[str, Any], *, scan_booleans: bool = True) -> Batch:
        """Validate columns (1-D lists or arrays by name, all of one length).

        ``scan_booleans``: as for :meth:`rows_to_batch`.
        """
        if not self.inputs:
            raise InvalidInputError(
                "this model's signature names no columns: send one 2-D tensor or rows"
            )
        arrays: dict[str, Any] = {}
        length: int | None = None
        first = ""
        # A float matrix is range-checked once, stacked: per column it costs ~3 us each.
        stacked = self.is_matrix and (self.matrix_dtype or "FP64") in FLOAT_TYPES
        for spec in self.inputs:
            if spec.name not in columns:
                raise InvalidInputError(
                    f"missing input {spec.name!r}; the model takes {', '.join(self.column_names)}"
                )
            values = _coerce_column(columns[spec.name], spec, scan_booleans, cast=not stacked)
            if length is None:
                length, first = len(values), spec.name
            elif len(values) != length:
                raise InvalidInputError(
                    f"input {spec.name!r} has {len(values)} rows but input {first!r} has {length}"
                )
            arrays[spec.name] = values
        if not length:
            raise InvalidInputError("expected at least one row, got none")
        if stacked:
            return self._check_matrix(np.column_stack([arrays[n] for n in self.column_names]))
        if self.is_matrix:
            return np.column_stack([arrays[n] for n in self.column_names])
        return arrays

    def invalid_rows(self, columns: Mapping[str, Any]) -> tuple[np.ndarray, list[str | None]]:
        """Which rows of ``columns`` the signature refuses, and why: per-row rejection.

        For a caller that keeps the good rows of a columnar chunk (batch scoring) where
        :meth:`columns_to_batch` refuses the whole chunk for its first bad value. Each
        column is checked whole first (the fast path); only a column that fails is
        scanned value by value, with the same checks and messages as the rows path.

        Returns:
            A boolean mask (True: the row is refused) and, for each row, the reason (the
            first column that refuses it) or None.

        Raises:
            InvalidInputError: a problem no single row has (a missing column, columns of
                different lengths, a column that is not one value per row).
        """
        if not self.inputs:
            raise InvalidInputError(
                "this model's signature names no columns: per-row checks need named inputs"
            )
        length: int | None = None
        for spec in self.inputs:
            if spec.name not in columns:
                raise InvalidInputError(
                    f"missing input {spec.name!r}; the model takes {', '.join(self.column_names)}"
                )
            n = len(columns[spec.name])
            if length is not None and n != length:
                raise InvalidInputError(
                    f"input {spec.name!r} has {n} rows but the other inputs have {length}"
                )
            length = n
        bad = np.zeros(length or 0, dtype=bool)
        reasons: list[str | None] = [None] * (length or 0)
        for spec in self.inputs:
            values = columns[spec.name]
            try:
                _coerce_column(values, spec)
                continue
            except InvalidInputError:
                pass
            items = values.tolist() if isinstance(values, np.ndarray) else list(values)
            for r, value in enumerate(items):  # bounded: one column of the chunk
                if bad[r]:
                    continue
                try:
                    _check_value(value, spec, r)
                except InvalidInputError as exc:
                    bad[r] = True
                    reasons[r] = str(exc)
        return bad, reasons

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

    # --- V2 tensors ----------------------------------------------------------------------

    def tensors_to_batch(self, tensors: Sequence[Tensor]) -> Batch:
        """Check V2 input tensors: one 2-D tensor ``[N, features]``, or one per column.

        Raises:
            InvalidInputError: missing or unknown input, wrong shape or datatype, bad values.
        """
        names = set(self.column_names)
        if len(tensors) == 1 and tensors[0].name not in names:
            tensor = tensors[0]
            width = self.n_features
            if len(tensor.shape) != 2 or (width is not None and tensor.shape[1] != width):
                raise InvalidInputError(
                    f"input {tensor.name!r}: expected shape [-1, {width or -1}] "
                    f"(rows x features), got {list(tensor.shape)}"
                )
            if self.matrix_dtype is not None:
                _check_datatype(tensor, self.matrix_dtype)
            return self.array_to_batch(tensor.to_numpy())
        by_name = {}
        for tensor in tensors:
            if tensor.name not in names:
                raise InvalidInputError(
                    f"unknown input {tensor.name!r}; the model takes " + self.inputs_description()
                )
            if tensor.name in by_name:
                raise InvalidInputError(f"input {tensor.name!r} is given twice")
            if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
                raise InvalidInputError(
                    f"input {tensor.name!r}: expected shape [-1] or [-1, 1] (one value per "
                    f"row), got {list(tensor.shape)}"
                )
            by_name[tensor.name] = tensor
        for spec in self.inputs:
            if spec.name not in by_name:
                raise InvalidInputError(
                    f"missing input {spec.name!r}; the model takes " + self.inputs_description()
                )
            _check_datatype(by_name[spec.name], spec.dtype)
        return self.columns_to_batch({n: t.to_numpy().reshape(-1) for n, t in by_name.items()})

    def inputs_description(self) -> str:
        """What the model takes, in words (for error messages)."""
        cols = ", ".join(self.column_names)
        if self.is_matrix:
            return f"one tensor of shape [-1, {self.n_features or -1}] or one per column ({cols})"
        return cols


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
        text = repr(value)
        return f"number {text if len(text) <= 24 else f'{text[:12]}... ({len(text)} digits)'}"
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


def _range_message(name: str, value: Any, row: int, dtype: str) -> str:
    if dtype == "FP64":
        return (
            f"input {name!r}: {_describe(value)} at row {row} is out of range: values beyond "
            f"±{MAX_MAGNITUDE:g} overflow the model's arithmetic to infinity, which the "
            "signature forbids (send smaller values, or set allow_inf on the column)"
        )
    return (
        f"input {name!r}: {_describe(value)} at row {row} is out of range for {dtype} "
        f"(±{_FLOAT_LIMITS[dtype]:g})"
    )


def _int_message(name: str, value: float, row: int, dtype: str) -> str:
    if math.isfinite(value) and value == math.floor(value):
        return f"input {name!r}: {_describe(value)} at row {row} is out of range for {dtype}"
    return f"input {name!r}: expected {dtype}, got {_describe(value)} at row {row}"


def _float_bounds(dtype: str) -> tuple[float, float]:
    """The floats just outside integer type ``dtype``'s range (exclusive bounds).

    ``float(max) + 1`` is a power of two, exact in FP64. For 64-bit types ``float(min)``
    itself is out: JSON integers beyond INT64 reach us as floats (orjson), and
    -9223372036854775809 rounds to exactly -2**63.
    """
    info = np.iinfo(DATATYPES[dtype])
    low = float(info.min) if info.bits == 64 else float(info.min) - 1
    return low, float(info.max) + 1


def _check_int_range(arr: np.ndarray, dtype: str, column: Any) -> None:
    """Integers narrowed to ``dtype`` must fit it (numpy would wrap them around)."""
    info = np.iinfo(DATATYPES[dtype])
    bad = (arr < info.min) | (arr > info.max)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        r, c = (index[0], index[1]) if len(index) == 2 else (index[0], 0)
        raise InvalidInputError(
            f"input {column(c).name!r}: {_describe(int(arr[index]))} at row {r} is out of "
            f"range for {dtype}"
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
        if ok and isinstance(value, float) and not math.isfinite(value):
            if (math.isnan(value) and not spec.allow_nan) or (
                math.isinf(value) and not spec.allow_inf
            ):
                raise InvalidInputError(_not_finite_message(spec.name, value, row))
        elif ok and abs(value) > float_limit(spec):
            raise InvalidInputError(_range_message(spec.name, value, row, dtype))
    elif dtype in INT_TYPES:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
        if ok and isinstance(value, float):
            low, high = _float_bounds(dtype)
            if not low < value < high:
                raise InvalidInputError(
                    f"input {spec.name!r}: {_describe(value)} at row {row} is out of range "
                    f"for {dtype}"
                )
    elif dtype == "BOOL":
        ok = isinstance(value, bool)
    else:  # BYTES
        ok = isinstance(value, str | bytes)
    if not ok:
        raise InvalidInputError(
            f"input {spec.name!r}: expected {dtype}, got {_describe(value)} at row {row}"
        )


def _coerce_column(
    values: Any, spec: ColumnSpec, scan_booleans: bool = True, *, cast: bool = True
) -> Any:
    """One column as a typed 1-D array, checked against ``spec``.

    ``cast=False`` (float columns of a matrix): numbers come back as they are, neither
    range-checked nor converted; the caller checks the stacked matrix.
    """
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
            if not cast:
                return values
            if values.size and (kind == "f" or spec.dtype == "FP16"):
                floats = values if kind == "f" else values.astype(np.float64)
                if not float(np.abs(floats).max()) <= _fast_limit(spec):  # NaN: false
                    _check_float_column(floats, spec)  # raises, or the values are allowed
                    with np.errstate(over="ignore"):  # beyond FP32/FP16: infinity
                        return values.astype(target, copy=False)
            return values.astype(target, copy=False)
        if spec.dtype in INT_TYPES and kind in "iu":
            if values.dtype != target and not np.can_cast(values.dtype, target):
                _check_int_range(values, spec.dtype, lambda _: spec)
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
            and not (scan_booleans and bool in map(type, values))
        ):
            return _coerce_column(fast, spec, cast=cast)
    for r, value in enumerate(values):
        _check_value(value, spec, r)
    if spec.dtype == "BYTES":
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
        return arr
    try:
        with np.errstate(over="ignore"):  # allowed: beyond FP32/FP16 becomes infinity
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


def _check_float_column(values: np.ndarray, spec: ColumnSpec) -> None:
    """The slow path of a float column: name the first value it does not allow."""
    values = values.astype(np.float64, copy=False)
    nan, inf = np.isnan(values), np.isinf(values)
    big = (np.abs(values) > _FLOAT_LIMITS[spec.dtype]) & ~inf
    bad = (nan & (not spec.allow_nan)) | ((inf | big) & (not spec.allow_inf))
    if bad.any():
        r = int(np.argmax(bad))
        value = float(values[r])
        if math.isfinite(value):
            raise InvalidInputError(_range_message(spec.name, value, r, spec.dtype))
        raise InvalidInputError(_not_finite_message(spec.name, value, r))


def _fits(value: Any, target: str) -> bool:
    try:
        with np.errstate(over="ignore"):
            np.array([value], dtype=target)
    except (OverflowError, ValueError):
        return False
    return True


def _family(datatype: str) -> str:
    if datatype.startswith("FP"):
        return "float"
    if datatype.startswith(("INT", "UINT")):
        return "int"
    return datatype


def _check_datatype(tensor: Tensor, expected: str) -> None:
    if tensor.datatype == expected:
        return
    if _family(tensor.datatype) not in _COMPATIBLE[_family(expected)]:
        raise InvalidInputError(
            f"input {tensor.name!r}: datatype {tensor.datatype} does not fit the model's "
            f"{expected}; send {expected}"
        )
