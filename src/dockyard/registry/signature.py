"""A model's signature: the input columns it takes and the output it gives.

A :class:`Signature` is inferred from the training data (:func:`infer_signature`), stored
with the model version as JSON (:meth:`Signature.to_dict` / :meth:`Signature.from_dict`),
and used by every delivery mode to check inputs *before* the model sees them::

    >>> sig = Signature(inputs=[ColumnSpec("a"), ColumnSpec("b")])
    >>> sig.rows_to_batch([[1.0, 2.0]]).shape
    (1, 2)
    >>> sig.rows_to_batch([[1.0, "x"]])
    Traceback (most recent call last):
    ...
    dockyard.errors.InvalidInputError: input 'b': expected FP64, got string 'x' at row 0

Data types are the Open Inference Protocol (KServe V2) names: ``BOOL``, ``INT8`` ...
``INT64``, ``UINT8`` ... ``UINT64``, ``FP16``, ``FP32``, ``FP64`` and ``BYTES`` (strings).

A validated *batch* is either a 2-D numpy array (when every column has the same numeric
type: the fast path, and what most scikit-learn models take) or a dict of 1-D arrays by
column name (mixed types, e.g. strings next to numbers), in signature order.

numpy is imported when a signature is first used, never at module import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidInputError, RegistryError

if TYPE_CHECKING:
    import numpy as np

    Batch = np.ndarray | dict[str, np.ndarray]

__all__ = [
    "DATATYPES",
    "ColumnSpec",
    "OutputSpec",
    "Signature",
    "batch_rows",
    "concat_batches",
    "datatype_of",
    "infer_signature",
    "split_batch",
]

#: V2 datatype -> numpy dtype name (BYTES are Python ``str``/``bytes`` in object arrays).
DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_FLOATS = frozenset({"FP16", "FP32", "FP64"})
_INTS = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
_NUMERIC = _FLOATS | _INTS
_OUTPUT_KINDS = ("label", "value", "probabilities")


def _np() -> Any:
    import numpy

    return numpy


def datatype_of(dtype: Any) -> str:
    """The V2 datatype for a numpy (or pandas) dtype.

    Raises:
        RegistryError: the dtype has no V2 equivalent (dates, complex numbers...).
    """
    np = _np()
    try:
        dt = np.dtype(dtype)
    except TypeError:  # pandas extension dtypes
        name = str(dtype).lower()
        if name in ("string", "str", "category") or name.startswith("string"):
            return "BYTES"
        if name == "boolean":
            return "BOOL"
        if name.startswith(("int", "uint")):
            return name.upper()
        if name.startswith("float"):
            return "FP" + name.removeprefix("float")
        raise RegistryError(
            f"dtype {dtype!s} has no Open Inference Protocol datatype; convert the column "
            "to numbers, booleans or strings before inferring the signature"
        ) from None
    kind = dt.kind
    if kind == "b":
        return "BOOL"
    if kind == "f":
        return f"FP{dt.itemsize * 8}"
    if kind == "i":
        return f"INT{dt.itemsize * 8}"
    if kind == "u":
        return f"UINT{dt.itemsize * 8}"
    if kind in "OUS":
        return "BYTES"
    raise RegistryError(
        f"dtype {dt} has no Open Inference Protocol datatype; convert the column to "
        "numbers, booleans or strings before inferring the signature"
    )


@dataclass(frozen=True)
class ColumnSpec:
    """One input column (feature).

    Attributes:
        name: the column name (the V2 input name when columns are sent one by one).
        dtype: its V2 datatype.
        allow_nan: missing values (NaN, JSON ``null``) are accepted.
        allow_inf: infinite values are accepted.
    """

    name: str
    dtype: str = "FP64"
    allow_nan: bool = False
    allow_inf: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DATATYPES:
            raise RegistryError(
                f"column {self.name!r}: unknown datatype {self.dtype!r}; "
                f"use one of {', '.join(DATATYPES)}"
            )


@dataclass(frozen=True)
class OutputSpec:
    """The model's output.

    Attributes:
        name: the V2 output name (``predict`` or ``predict_proba`` by convention).
        dtype: its V2 datatype (``INT64``/``BYTES`` class labels, ``FP64`` values...).
        kind: ``label`` (classes), ``value`` (regression) or ``probabilities``.
        shape: the shape of the output, ``-1`` for the batch dimension.
    """

    name: str = "predict"
    dtype: str = "INT64"
    kind: str = "label"
    shape: tuple[int, ...] = (-1,)

    def __post_init__(self) -> None:
        if self.dtype not in DATATYPES:
            raise RegistryError(f"output {self.name!r}: unknown datatype {self.dtype!r}")
        if self.kind not in _OUTPUT_KINDS:
            raise RegistryError(
                f"output {self.name!r}: unknown kind {self.kind!r}; use one of {_OUTPUT_KINDS}"
            )
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))


@dataclass(frozen=True)
class Signature:
    """What a model takes and gives. Immutable; edit with :func:`dataclasses.replace`.

    Attributes:
        inputs: the input columns, in the order the model expects them. Empty means
            "any numeric matrix" (of ``n_features`` columns when that is set).
        outputs: the outputs; empty when unknown.
        n_features: the fixed number of features; set from ``inputs`` when they are given.
    """

    inputs: tuple[ColumnSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    n_features: int | None = None
    _cache: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        inputs = tuple(c if isinstance(c, ColumnSpec) else ColumnSpec(**c) for c in self.inputs)
        outputs = tuple(o if isinstance(o, OutputSpec) else OutputSpec(**o) for o in self.outputs)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        names = [c.name for c in inputs]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise RegistryError(f"signature has duplicate input names: {', '.join(dupes)}")
        if inputs:
            if self.n_features is not None and self.n_features != len(inputs):
                raise RegistryError(
                    f"signature has {len(inputs)} inputs but n_features={self.n_features}"
                )
            object.__setattr__(self, "n_features", len(inputs))
        elif self.n_features is not None and self.n_features < 1:
            raise RegistryError(f"n_features must be at least 1, got {self.n_features}")

    # --- JSON --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "inputs": [
                {
                    "name": c.name,
                    "dtype": c.dtype,
                    "allow_nan": c.allow_nan,
                    "allow_inf": c.allow_inf,
                }
                for c in self.inputs
            ],
            "outputs": [
                {"name": o.name, "dtype": o.dtype, "kind": o.kind, "shape": list(o.shape)}
                for o in self.outputs
            ],
            "n_features": self.n_features,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Read a dict written by :meth:`to_dict`.

        Raises:
            RegistryError: the dict is not a signature.
        """
        try:
            return cls(
                inputs=tuple(ColumnSpec(**c) for c in data.get("inputs", ())),
                outputs=tuple(OutputSpec(**o) for o in data.get("outputs", ())),
                n_features=data.get("n_features"),
            )
        except (TypeError, AttributeError) as exc:
            raise RegistryError(f"not a signature: {exc}") from exc

    # --- derived facts -----------------------------------------------------------------

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.inputs)

    @property
    def matrix_dtype(self) -> str | None:
        """The common numeric datatype when the inputs form one matrix, else ``None``."""
        if "matrix_dtype" not in self._cache:
            kinds = {c.dtype for c in self.inputs} or {"FP64"}
            dtype = next(iter(kinds)) if len(kinds) == 1 else None
            self._cache["matrix_dtype"] = dtype if dtype in _NUMERIC else None
        return self._cache["matrix_dtype"]  # type: ignore[no-any-return]

    @property
    def is_matrix(self) -> bool:
        """Validated batches are one 2-D array (else a dict of columns)."""
        return self.matrix_dtype is not None

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
        if "flags" not in self._cache:
            np = _np()
            self._cache["flags"] = (
                np.array([c.allow_nan for c in self.inputs], dtype=bool),
                np.array([c.allow_inf for c in self.inputs], dtype=bool),
            )
        return self._cache["flags"]  # type: ignore[no-any-return]

    # --- validation: rows --------------------------------------------------------------

    def rows_to_batch(self, rows: Any) -> Batch:
        """Validate a list of rows (each a list of values in column order).

        Numbers are read the way numpy reads them: a JSON boolean among numbers counts
        as 1 or 0 (checking every value would cost the hot path a Python loop); rows of
        booleans only, strings, nulls and nested lists are refused precisely.

        Raises:
            InvalidInputError: the rows do not fit; the message names the column and row.
        """
        np = _np()
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
        np = _np()
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

    def _check_matrix(self, arr: Any) -> Any:
        np = _np()
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
        if target in _INTS:
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
        np = _np()
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
            np = _np()
            arr = np.column_stack(
                [_coerce_column(col, self._column(i)) for i, col in enumerate(columns)]
            )
            return self._check_matrix(arr)
        return self.columns_to_batch({spec.name: columns[i] for i, spec in enumerate(self.inputs)})

    # --- validation: columns and records ----------------------------------------------

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
        np = _np()
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
        np = _np()
        if _is_frame(data):
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
    np = _np()
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    if isinstance(first, dict):
        return {k: np.concatenate([b[k] for b in batches]) for k in first}  # type: ignore[index]
    return np.concatenate(batches)


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
        ok = spec.allow_nan and dtype not in _INTS and dtype != "BOOL"
        if not ok:
            raise InvalidInputError(
                f"input {spec.name!r}: expected {dtype}, got null at row {row}"
                + (
                    " (the signature does not allow missing values)"
                    if dtype in _FLOATS | {"BYTES"}
                    else ""
                )
            )
        return
    if dtype in _FLOATS:
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
    elif dtype in _INTS:
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
    np = _np()
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
        if spec.dtype in _FLOATS and kind in "fiu":
            out = values.astype(target, copy=False)
            if kind == "f" and not np.isfinite(out).all():
                bad = (np.isnan(out) & (not spec.allow_nan)) | (
                    np.isinf(out) & (not spec.allow_inf)
                )
                if bad.any():
                    r = int(np.argmax(bad))
                    raise InvalidInputError(_not_finite_message(spec.name, float(out[r]), r))
            return out
        if spec.dtype in _INTS and kind in "iu":
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
    if spec.dtype in _NUMERIC:
        try:
            fast = np.asarray(values)
        except (ValueError, TypeError):
            fast = None
        if (
            fast is not None
            and fast.ndim == 1
            and fast.dtype.kind in "fiu"
            and (spec.dtype in _FLOATS or fast.dtype.kind != "f")
        ):
            return _coerce_column(fast, spec)
    for r, value in enumerate(values):
        _check_value(value, spec, r)
    if spec.dtype == "BYTES":
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
        return arr
    try:
        if spec.dtype in _FLOATS:
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
    np = _np()
    try:
        np.array([value], dtype=target)
    except (OverflowError, ValueError):
        return False
    return True


# --- inference -------------------------------------------------------------------------


def _is_frame(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _column_spec(name: str, values: Any) -> ColumnSpec:
    """Infer one column's spec from its training values (a 1-D array or Series)."""
    np = _np()
    dtype = getattr(values, "dtype", None)
    if _is_frame(values) or hasattr(values, "isna"):  # pandas Series
        has_missing = bool(values.isna().any())
        datatype = datatype_of(dtype)
        if datatype in _INTS and has_missing:
            datatype = "FP64"
        arr = values.to_numpy(dtype=float, na_value=np.nan) if datatype in _FLOATS else None
    else:
        arr = np.asarray(values)
        if arr.dtype.kind == "O":
            present = [v for v in arr.tolist() if v is not None]
            has_missing = len(present) != len(arr) or any(
                isinstance(v, float) and math.isnan(v) for v in present
            )
            inner = np.asarray([v for v in present if not (isinstance(v, float) and math.isnan(v))])
            datatype = datatype_of(inner.dtype) if inner.size else "BYTES"
            if datatype in _INTS and has_missing:
                datatype = "FP64"
            arr = None
        else:
            datatype = datatype_of(arr.dtype)
            has_missing = bool(arr.dtype.kind == "f" and np.isnan(arr).any())
    has_inf = bool(arr is not None and arr.dtype.kind == "f" and np.isinf(arr).any())
    return ColumnSpec(str(name), datatype, allow_nan=has_missing, allow_inf=has_inf)


def _output_spec(y: Any, name: str = "predict") -> OutputSpec:
    np = _np()
    arr = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    datatype = datatype_of(arr.dtype) if arr.dtype.kind != "O" else "BYTES"
    if arr.dtype.kind == "O" and arr.size:
        inner = np.asarray(arr.ravel().tolist())
        datatype = datatype_of(inner.dtype)
    kind = "value" if datatype in _FLOATS else "label"
    if datatype in _INTS:
        datatype = "INT64"
    shape = (-1, *arr.shape[1:])
    return OutputSpec(name=name, dtype=datatype, kind=kind, shape=shape)


def infer_signature(X: Any, y: Any = None) -> Signature:
    """Infer a signature from training data.

    Args:
        X: a pandas DataFrame, a 2-D numpy array, a list of rows or a list of records.
            Column names come from the DataFrame or records; arrays and rows get
            ``x0``, ``x1``... A column with missing values accepts them; one with
            infinities accepts those.
        y: the training target (or the model's predictions), to describe the output.

    Raises:
        InvalidInputError: ``X`` is not tabular (e.g. 1-D, or empty).
        RegistryError: a column has a type the protocol cannot carry (dates...).
    """
    np = _np()
    if _is_frame(X):
        inputs = [_column_spec(str(c), X[c]) for c in X.columns]
    elif isinstance(X, list | tuple) and X and isinstance(X[0], Mapping):
        names = list(X[0])
        inputs = [_column_spec(str(n), [rec.get(n) for rec in X]) for n in names]
    else:
        arr = np.asarray(X) if not isinstance(X, list | tuple) else _rows_array(X)
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise InvalidInputError(
                f"cannot infer a signature from data of shape {list(arr.shape)}: "
                "pass a DataFrame or a 2-D array (rows x features)"
            )
        inputs = [_column_spec(f"x{i}", arr[:, i]) for i in range(arr.shape[1])]
    if not inputs:
        raise InvalidInputError("cannot infer a signature from data with no columns")
    outputs = (_output_spec(y),) if y is not None else ()
    return Signature(inputs=tuple(inputs), outputs=outputs)


def _rows_array(rows: Sequence[Any]) -> Any:
    np = _np()
    try:
        arr = np.asarray(rows)
    except ValueError:  # ragged: let the caller report the shape
        return np.asarray(rows, dtype=object)
    if arr.dtype.kind in "US":  # numpy turned mixed numbers and strings into strings
        arr = np.empty((len(rows), len(rows[0])), dtype=object)
        arr[:] = [list(r) for r in rows]
    return arr
