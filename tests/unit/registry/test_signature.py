"""Signatures: inferred from training data or the fitted model, stored as JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dockyard.errors import InvalidInputError, RegistryError
from dockyard.registry.signature import (
    ColumnSpec,
    OutputSpec,
    Signature,
    infer_signature,
    signature_from_model,
)

IRIS = Signature(
    inputs=[ColumnSpec(n) for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")],
    outputs=[OutputSpec("predict", "INT64")],
)
MIXED = Signature(
    inputs=[
        ColumnSpec("age", "INT64"),
        ColumnSpec("income", "FP64", allow_nan=True),
        ColumnSpec("city", "BYTES"),
    ]
)


# --- inference -------------------------------------------------------------------------


def test_infer_from_dataframe_names_types_and_missing_values() -> None:
    df = pd.DataFrame(
        {
            "age": [30, 40],
            "income": [1.5, np.nan],
            "city": ["Lyon", "Oslo"],
            "vip": [True, False],
            "score": np.array([1.0, 2.0], dtype=np.float32),
        }
    )
    sig = infer_signature(df, pd.Series(["yes", "no"]))
    assert [(c.name, c.dtype, c.allow_nan) for c in sig.inputs] == [
        ("age", "INT64", False),
        ("income", "FP64", True),
        ("city", "BYTES", False),
        ("vip", "BOOL", False),
        ("score", "FP32", False),
    ]
    assert sig.n_features == 5
    assert sig.outputs == (OutputSpec("predict", "BYTES", "label"),)
    assert not sig.is_matrix


def test_infer_from_numpy_and_rows() -> None:
    x = np.array([[1.0, 2.0], [3.0, np.inf]])
    sig = infer_signature(x, np.array([0, 1]))
    assert sig.column_names == ("x0", "x1")
    assert sig.inputs[1].allow_inf and not sig.inputs[0].allow_inf
    assert sig.matrix_dtype == "FP64"
    assert sig.outputs[0].dtype == "INT64"
    rows = infer_signature([[1, "a"], [2, "b"]])
    assert [c.dtype for c in rows.inputs] == ["INT64", "BYTES"]
    records = infer_signature([{"a": 1.5, "b": None}, {"a": 2.0, "b": "x"}])
    assert [(c.name, c.dtype, c.allow_nan) for c in records.inputs] == [
        ("a", "FP64", False),
        ("b", "BYTES", True),
    ]
    assert infer_signature(x, [0.5, 1.5]).outputs[0].kind == "value"


def test_infer_rejects_non_tabular_data() -> None:
    with pytest.raises(InvalidInputError, match=r"shape \[3\]"):
        infer_signature(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(RegistryError, match=r"datetime|no Open Inference Protocol datatype"):
        infer_signature(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}))


def test_json_round_trip() -> None:
    sig = infer_signature(pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "y"]}), [0, 1])
    assert Signature.from_dict(sig.to_dict()) == sig
    assert Signature.from_dict(IRIS.to_dict()) == IRIS
    with pytest.raises(RegistryError, match="not a signature"):
        Signature.from_dict({"inputs": [{"nom": "a"}]})


def test_bad_signatures_are_refused() -> None:
    with pytest.raises(RegistryError, match="unknown datatype 'FLOAT'"):
        ColumnSpec("a", "FLOAT")
    with pytest.raises(RegistryError, match="duplicate input names: a"):
        Signature(inputs=[ColumnSpec("a"), ColumnSpec("a")])
    with pytest.raises(RegistryError, match="2 inputs but n_features=3"):
        Signature(inputs=[ColumnSpec("a"), ColumnSpec("b")], n_features=3)


def test_signature_from_a_fitted_model() -> None:
    """A model registered without a sample still says what it takes: named columns when
    it was fitted on a DataFrame, a width otherwise, and its classes' datatype."""
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.8, 0.1]})
    named = signature_from_model(LogisticRegression().fit(frame, [0, 1, 0, 1]))
    assert named is not None
    assert named.column_names == ("a", "b") and named.n_features == 2
    assert named.outputs[0].dtype == "INT64"
    bare = signature_from_model(LogisticRegression().fit(frame.to_numpy(), ["x", "y", "x", "y"]))
    assert bare is not None
    assert (bare.inputs, bare.n_features, bare.outputs[0].dtype) == ((), 2, "BYTES")
    assert signature_from_model(object()) is None
