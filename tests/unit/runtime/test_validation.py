"""Validation: inputs checked against a signature precisely and coerced into batches."""

from __future__ import annotations

import math
import re

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
    with pytest.raises(InvalidInputError, match=r"input 'x0': number 1358.* is out of range"):
        Validator(Signature()).rows_to_batch([[2**1100]])
    with pytest.raises(InvalidInputError, match=r"number 1358.* at row 0 is out of range for FP64"):
        Validator(Signature(inputs=[ColumnSpec("x", allow_inf=True)])).rows_to_batch([[2**1100]])


def test_rows_without_values_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least one value per row"):
        Validator(Signature()).rows_to_batch(np.zeros((1, 0)))
    with pytest.raises(InvalidInputError, match="at least one value per row"):
        Validator(Signature()).rows_to_batch([[]])


# --- the finite range a model can compute with (hardening #8, item 15) ------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda v: IRIS.rows_to_batch([[1.79e308, 1.0, 1.0, 1.0]]),
        lambda v: IRIS.array_to_batch(np.array([[1.79e308, 1.0, 1.0, 1.0]])),
        lambda v: IRIS.records_to_batch([dict.fromkeys(IRIS.column_names, 1.79e308)]),
        lambda v: IRIS.columns_to_batch({n: np.array([1.79e308]) for n in IRIS.column_names}),
        lambda v: IRIS.frame_to_batch(pd.DataFrame([[1.79e308] * 4], columns=IRIS.column_names)),
        lambda v: MIXED.records_to_batch([{"age": 1, "income": -1.79e308, "city": "x"}]),
    ],
)
def test_finite_values_too_large_to_compute_with_are_client_errors(call) -> None:
    # Why: a StandardScaler turns 1.79e308 into infinity, and the model's error was a 500
    # that a client could repeat to push a version into rollback.
    with pytest.raises(
        InvalidInputError,
        match=r"input '(sepal_length|income)': number -?1\.79e\+308 at row 0 is out of range: "
        r"values beyond ±1e\+150 overflow the model's arithmetic to infinity",
    ):
        call(None)


def test_the_magnitude_limit_is_inclusive_and_lifted_by_allow_inf() -> None:
    assert IRIS.rows_to_batch([[1e150, -1e150, 0.0, 1.0]]).shape == (1, 4)
    with pytest.raises(
        InvalidInputError, match=re.escape("'sepal_width': number 1.1e+150 at row 1")
    ):
        IRIS.rows_to_batch([[1.0, 1.0, 1.0, 1.0], [1.0, 1.1e150, 1.0, 1.0]])
    open_ended = Validator(Signature(inputs=[ColumnSpec("a"), ColumnSpec("b", allow_inf=True)]))
    assert open_ended.rows_to_batch([[1.0, 1.79e308]])[0, 1] == 1.79e308
    with pytest.raises(InvalidInputError, match=re.escape("input 'a': number 1.79e+308 at row 0")):
        open_ended.rows_to_batch([[1.79e308, 1.0]])


def test_fp32_and_fp16_values_must_fit_their_type() -> None:
    fp32 = Validator(Signature(inputs=[ColumnSpec("a", "FP32"), ColumnSpec("b", "FP32")]))
    with pytest.raises(
        InvalidInputError, match=r"input 'b': number 1e\+39 at row 0 is out of range for FP32"
    ):
        fp32.rows_to_batch([[1.0, 1e39]])
    fp16 = Validator(Signature(inputs=[ColumnSpec("h", "FP16")]))
    with pytest.raises(
        InvalidInputError, match=re.escape("number 70000.0 at row 0 is out of range for FP16")
    ):
        fp16.rows_to_batch([[70000]])  # an integer: numpy would make it infinity
    with pytest.raises(
        InvalidInputError, match=re.escape("number 70000.0 at row 0 is out of range for FP16")
    ):
        fp16.columns_to_batch({"h": np.array([70000.0])})
    loose = Validator(Signature(inputs=[ColumnSpec("h", "FP16", allow_inf=True)]))
    assert np.isinf(loose.columns_to_batch({"h": np.array([70000.0])})[0, 0])


def test_integers_must_fit_their_type_on_every_path() -> None:
    int8 = Validator(Signature(inputs=[ColumnSpec("a", "INT8"), ColumnSpec("b", "INT8")]))
    with pytest.raises(InvalidInputError, match="input 'b': number 300 at row 0 is out of range"):
        int8.rows_to_batch([[1, 300]])  # numpy would wrap it around to 44
    with pytest.raises(
        InvalidInputError, match=re.escape("input 'a': number 300.0 at row 1 is out")
    ):
        int8.rows_to_batch([[1.0, 2.0], [300.0, 1.0]])
    with pytest.raises(
        InvalidInputError, match=re.escape("input 'a': expected INT8, got number 1.5 at row 0")
    ):
        int8.rows_to_batch([[1.5, 2.0]])
    with pytest.raises(InvalidInputError, match="input 'age': number 300 at row 0 is out of range"):
        Validator(Signature(inputs=[ColumnSpec("age", "INT8")])).columns_to_batch(
            {"age": np.array([300])}
        )
    big = Validator(Signature(inputs=[ColumnSpec("n", "INT64")]))
    with pytest.raises(
        InvalidInputError, match=re.escape("number 9.3e+18 at row 0 is out of range")
    ):
        big.rows_to_batch([[9.3e18]])


# --- types: a boolean is not a number, a list is not a string (item 16) -----------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: IRIS.rows_to_batch([[5.1, True, 1.4, 0.2]]),
            "input 'sepal_width': expected FP64, got boolean true at row 0",
        ),
        (
            lambda: IRIS.records_to_batch(
                [
                    dict.fromkeys(IRIS.column_names, 1.0),
                    {**dict.fromkeys(IRIS.column_names, 1.0), "petal_width": False},
                ]
            ),
            "input 'petal_width': expected FP64, got boolean false at row 1",
        ),
        (
            lambda: MIXED.records_to_batch([{"age": True, "income": 1.0, "city": "x"}]),
            "input 'age': expected INT64, got boolean true at row 0",
        ),
        (
            lambda: MIXED.records_to_batch([{"age": 1, "income": 1.0, "city": ["x"]}]),
            "input 'city': expected BYTES, got an array of 1 at row 0",
        ),
        (
            lambda: MIXED.records_to_batch(
                [
                    {"age": 1, "income": 1.0, "city": "x"},
                    {"age": 1, "income": 1.0, "city": ["y", "z"]},
                ]
            ),
            "input 'city': expected BYTES, got an array of 2 at row 1",
        ),
        (
            lambda: MIXED.columns_to_batch({"age": [1], "income": [1.0], "city": [["x"]]}),
            "input 'city': expected BYTES, got an array of 1 at row 0",
        ),
    ],
)
def test_values_of_another_type_are_refused(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        call()


def test_the_boolean_scan_can_be_skipped_by_a_caller_that_knows_there_are_none() -> None:
    # The HTTP app skips it when the JSON body holds no true/false: then numpy's reading
    # is the only one (documented on rows_to_batch).
    assert IRIS.rows_to_batch([[5.1, 3.5, 1.4, 0.2]], scan_booleans=False).shape == (1, 4)


def test_fp32_and_fp16_arrays_meet_the_fp64_limit_without_warnings() -> None:
    # Why: comparing a float32 array with 1e150 cast the bound to float32 (a warning).
    v = Validator(Signature(inputs=[ColumnSpec("a"), ColumnSpec("b")]))
    assert v.array_to_batch(np.array([[1.0, 2.0]], dtype=np.float32)).dtype == np.float64
    assert v.columns_to_batch({"a": np.ones(2, np.float16), "b": np.ones(2, np.float32)}).shape == (
        2,
        2,
    )
    with pytest.raises(InvalidInputError, match="input 'b': NaN is not allowed at row 0"):
        v.array_to_batch(np.array([[1.0, np.nan]], dtype=np.float32))


def test_json_integers_beyond_int64_are_out_of_range_though_they_arrive_as_floats() -> None:
    # orjson reads -9223372036854775809 as the float -2**63, a valid INT64 once converted:
    # found by schemathesis (a schema-violating value accepted).
    import orjson

    value = orjson.loads("-9223372036854775809")
    assert value == -(2**63) and isinstance(value, float)
    with pytest.raises(
        InvalidInputError, match=re.escape("input 'age': number -9.223372036854776e+18 at row 0 is")
    ):
        MIXED.records_to_batch([{"age": value, "income": 1.0, "city": "x"}])
    ints = Validator(Signature(inputs=[ColumnSpec("n", "INT64")]))
    with pytest.raises(InvalidInputError, match="out of range for INT64"):
        ints.rows_to_batch([[value]])
    assert ints.rows_to_batch([[-(2**63)]])[0, 0] == -(2**63)  # the integer itself fits
