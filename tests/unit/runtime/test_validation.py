"""Validation: inputs checked against a signature precisely and coerced into batches."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dockyard.errors import InvalidInputError
from dockyard.registry.signature import ColumnSpec, OutputSpec, Signature
from dockyard.runtime.validation import Validator, batch_rows, concat_batches

IRIS = Validator(
    Signature(
        inputs=[
            ColumnSpec(n) for n in ("sepal_length", "sepal_width", "petal_length", "petal_width")
        ],
        outputs=[OutputSpec("predict", "INT64")],
    )
)
MIXED = Validator(
    Signature(
        inputs=[
            ColumnSpec("age", "INT64"),
            ColumnSpec("income", "FP64", allow_nan=True),
            ColumnSpec("city", "BYTES"),
        ]
    )
)


def test_rows_fast_path_gives_a_float_matrix() -> None:
    batch = IRIS.rows_to_batch([[5.1, 3.5, 1.4, 0.2], [6, 3, 5, 2]])
    assert isinstance(batch, np.ndarray) and batch.dtype == np.float64 and batch.shape == (2, 4)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [[5.1, 3.5, 1.4, 0.2], [1, 2, 3, "abc"]],
            "input 'petal_width': expected FP64, got string 'abc' at row 1",
        ),
        ([[5.1, None, 1.4, 0.2]], "input 'sepal_width': expected FP64, got null at row 0"),
        (
            [[True, False, True, True]],
            "input 'sepal_length': expected FP64, got boolean true at row 0",
        ),
        (
            [[1.0, 2.0, 3.0]],
            r"expected 4 \(sepal_length, sepal_width, petal_length, petal_width\) values per row, got 3",
        ),
        ([[1.0, 2.0, 3.0, 4.0], [1.0]], "values at row 1, got 1"),
        (
            [1.0, 2.0, 3.0, 4.0],
            r"expected a list of rows .* row 0 is number 1.0 \(one row is written",
        ),
        ([], "at least one row"),
        ("abc", "expected a list of rows"),
        ([[1.0, 2.0, 3.0, [4.0]]], "got an array of 1 at row 0"),
        ([[1e400, 1.0, 1.0, 1.0]], "input 'sepal_length': infinity is not allowed at row 0"),
    ],
)
def test_rows_errors_name_column_and_row(rows: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        IRIS.rows_to_batch(rows)


def test_nan_and_inf_follow_the_column_flags() -> None:
    sig = Validator(
        Signature(inputs=[ColumnSpec("a", allow_nan=True), ColumnSpec("b", allow_inf=True)])
    )
    batch = sig.rows_to_batch(np.array([[np.nan, np.inf]]))
    assert math.isnan(batch[0, 0]) and math.isinf(batch[0, 1])
    assert math.isnan(sig.rows_to_batch([[None, 1.0]])[0, 0])
    with pytest.raises(InvalidInputError, match="input 'a': infinity is not allowed at row 1"):
        sig.rows_to_batch(np.array([[1.0, 1.0], [np.inf, 1.0]]))
    with pytest.raises(
        InvalidInputError, match=r"input 'b': NaN is not allowed at row 0 .*allow_nan"
    ):
        sig.rows_to_batch(np.array([[1.0, np.nan]]))


def test_integer_columns_take_integral_numbers_only() -> None:
    sig = Validator(Signature(inputs=[ColumnSpec("n", "INT64")]))
    assert sig.rows_to_batch([[3], [4.0]]).dtype == np.int64
    with pytest.raises(
        InvalidInputError, match=r"input 'n': expected INT64, got number 1.5 at row 0"
    ):
        sig.rows_to_batch([[1.5]])


def test_mixed_records_give_typed_columns() -> None:
    batch = MIXED.records_to_batch(
        [
            {"age": 30, "income": None, "city": "Lyon", "extra": 1},
            {"age": 41, "income": 2.5, "city": "Oslo"},
        ]
    )
    assert isinstance(batch, dict)
    assert batch["age"].dtype == np.int64 and batch["city"].tolist() == ["Lyon", "Oslo"]
    assert math.isnan(batch["income"][0])
    assert batch_rows(batch) == 2
    merged = concat_batches([batch, batch])
    assert batch_rows(merged) == 4


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"age": 30, "income": 1.0}], "missing input 'city' at record 0"),
        (
            [{"age": 30, "income": 1.0, "city": 7}],
            "input 'city': expected BYTES, got number 7 at row 0",
        ),
        (
            [{"age": "30", "income": 1.0, "city": "x"}],
            "input 'age': expected INT64, got string '30' at row 0",
        ),
        ([[1, 2, 3]], "record 0: expected an object by column name"),
        ({"age": 1}, "expected a list of records"),
    ],
)
def test_records_errors(records: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MIXED.records_to_batch(records)


def test_columns_and_frames() -> None:
    batch = IRIS.columns_to_batch({n: np.array([1.0, 2.0]) for n in IRIS.column_names})
    assert batch.shape == (2, 4)
    with pytest.raises(InvalidInputError, match="input 'b' has 1 rows but input 'a' has 2"):
        Validator(Signature(inputs=[ColumnSpec("a"), ColumnSpec("b")])).columns_to_batch(
            {"a": [1.0, 2.0], "b": [1.0]}
        )
    frame = pd.DataFrame({"city": ["x"], "age": [3], "income": [1.0]})
    assert MIXED.to_batch(frame)["city"].tolist() == ["x"]
    with pytest.raises(InvalidInputError, match="missing input 'city'"):
        MIXED.to_batch(frame.drop(columns="city"))


def test_signature_without_columns_accepts_any_numeric_matrix() -> None:
    sig = Validator(Signature())
    assert sig.rows_to_batch([[1, 2, 3]]).shape == (1, 3)
    with pytest.raises(InvalidInputError, match="got string 'x'"):
        sig.rows_to_batch([[1, "x"]])
    fixed = Validator(Signature(n_features=2))
    with pytest.raises(InvalidInputError, match="expected 2 values per row, got 3"):
        fixed.rows_to_batch([[1, 2, 3]])


def test_huge_integers_are_client_errors() -> None:
    with pytest.raises(InvalidInputError):
        Validator(Signature(inputs=[ColumnSpec("n", "INT64")])).rows_to_batch([[2**70]])
    big = Validator(Signature(inputs=[ColumnSpec("x")])).rows_to_batch([[2**70]])
    assert big[0, 0] == float(2**70)
    with pytest.raises(InvalidInputError, match="out of range for FP64"):
        Validator(Signature()).rows_to_batch([[2**1100]])


def test_rows_without_values_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least one value per row"):
        Validator(Signature()).rows_to_batch(np.zeros((1, 0)))
    with pytest.raises(InvalidInputError, match="at least one value per row"):
        Validator(Signature()).rows_to_batch([[]])
