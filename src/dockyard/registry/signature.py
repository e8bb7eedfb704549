"""A model's signature: the input columns it takes and the output it gives.

A :class:`Signature` is inferred from the training data (:func:`infer_signature`) or,
without a sample, from the fitted model itself (:func:`signature_from_model`), stored
with the model version as JSON (:meth:`Signature.to_dict` / :meth:`Signature.from_dict`),
and used by every delivery mode to check inputs *before* the model sees them (the
runtime's :class:`~dockyard.runtime.validation.Validator`)::

    >>> sig = infer_signature(pd.DataFrame({"a": [1.0], "b": ["x"]}))
    >>> [(c.name, c.dtype) for c in sig.inputs]
    [('a', 'FP64'), ('b', 'BYTES')]

Data types are the Open Inference Protocol (KServe V2) names: ``BOOL``, ``INT8`` ...
``INT64``, ``UINT8`` ... ``UINT64``, ``FP16``, ``FP32``, ``FP64`` and ``BYTES`` (strings).

numpy is imported when a signature is first inferred, never at module import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidInputError, RegistryError

__all__ = [
    "DATATYPES",
    "FLOAT_TYPES",
    "INT_TYPES",
    "NUMERIC_TYPES",
    "ColumnSpec",
    "OutputSpec",
    "Signature",
    "datatype_of",
    "infer_signature",
    "is_frame",
    "signature_from_model",
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
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
INT_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
NUMERIC_TYPES = FLOAT_TYPES | INT_TYPES
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
    #: What the training sample looked like (:func:`dockyard.registry.profile.build_profile`):
    #: the reference drift is measured against. Not part of what a model takes, so two
    #: signatures that differ only here are equal.
    profile: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
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
        } | ({"profile": dict(self.profile)} if self.profile is not None else {})

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
                profile=data.get("profile"),
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
            self._cache["matrix_dtype"] = dtype if dtype in NUMERIC_TYPES else None
        return self._cache["matrix_dtype"]  # type: ignore[no-any-return]

    @property
    def is_matrix(self) -> bool:
        """Validated batches are one 2-D array (else a dict of columns)."""
        return self.matrix_dtype is not None


# --- inference -------------------------------------------------------------------------


def is_frame(data: Any) -> bool:
    """Whether ``data`` is a pandas DataFrame (without importing pandas)."""
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _column_spec(name: str, values: Any) -> ColumnSpec:
    """Infer one column's spec from its training values (a 1-D array or Series)."""
    np = _np()
    dtype = getattr(values, "dtype", None)
    if is_frame(values) or hasattr(values, "isna"):  # pandas Series
        has_missing = bool(values.isna().any())
        datatype = datatype_of(dtype)
        if datatype in INT_TYPES and has_missing:
            datatype = "FP64"
        arr = values.to_numpy(dtype=float, na_value=np.nan) if datatype in FLOAT_TYPES else None
    else:
        arr = np.asarray(values)
        if arr.dtype.kind == "O":
            present = [v for v in arr.tolist() if v is not None]
            has_missing = len(present) != len(arr) or any(
                isinstance(v, float) and math.isnan(v) for v in present
            )
            inner = np.asarray([v for v in present if not (isinstance(v, float) and math.isnan(v))])
            datatype = datatype_of(inner.dtype) if inner.size else "BYTES"
            if datatype in INT_TYPES and has_missing:
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
    kind = "value" if datatype in FLOAT_TYPES else "label"
    if datatype in INT_TYPES:
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
    if is_frame(X):
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


def signature_from_model(model: Any) -> Signature | None:
    """What a fitted model says of its inputs, for a model registered without a sample.

    scikit-learn estimators (and others following its conventions) record
    ``feature_names_in_`` when fitted on a DataFrame and ``n_features_in_`` always: the
    names become FP64 columns, a bare count a matrix of that width. Classifiers'
    ``classes_`` give the output's datatype. None when the model says nothing.
    """
    np = _np()
    names = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    classes = getattr(model, "classes_", None)
    outputs: tuple[OutputSpec, ...] = ()
    if classes is not None:
        try:
            outputs = (_output_spec(np.asarray(classes)),)
        except (RegistryError, TypeError, ValueError):
            outputs = ()
    if names is not None:
        return Signature(inputs=tuple(ColumnSpec(str(n)) for n in names), outputs=outputs)
    if isinstance(count, int | np.integer) and int(count) > 0:
        return Signature(n_features=int(count), outputs=outputs)
    return None


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
