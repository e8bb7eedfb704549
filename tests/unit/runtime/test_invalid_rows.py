"""Per-row rejection: which rows of a columnar chunk the signature refuses, and why."""

from __future__ import annotations

import numpy as np
import pytest

from dockyard.errors import InvalidInputError
from dockyard.registry.signature import ColumnSpec, Signature
from dockyard.runtime.validation import Validator


def _validator() -> Validator:
    return Validator(Signature(inputs=[ColumnSpec("a"), ColumnSpec("b"), ColumnSpec("k", "BYTES")]))


def test_good_columns_have_no_bad_row() -> None:
    bad, reasons = _validator().invalid_rows(
        {"a": np.array([1.0, 2.0]), "b": np.array([3, 4]), "k": np.array(["x", "y"])}
    )
    assert bad.tolist() == [False, False]
    assert reasons == [None, None]


def test_each_bad_row_is_named_with_the_first_reason() -> None:
    bad, reasons = _validator().invalid_rows(
        {
            "a": np.array([1.0, np.nan, 3.0, 2e200]),
            "b": np.array([1.0, np.inf, np.inf, 1.0]),
            "k": np.array(["x", "y", "z", "w"], dtype=object),
        }
    )
    assert bad.tolist() == [False, True, True, True]
    assert reasons[1] is not None and "input 'a': NaN is not allowed" in reasons[1]
    assert reasons[2] is not None and "input 'b': infinity is not allowed" in reasons[2]
    assert reasons[3] is not None and "out of range" in reasons[3]
    # The good rows then pass the whole-chunk path.
    assert _validator().columns_to_batch(
        {"a": np.array([1.0]), "b": np.array([1.0]), "k": np.array(["x"], dtype=object)}
    )


def test_wrong_types_are_per_row() -> None:
    bad, reasons = _validator().invalid_rows({"a": [1.0, "x"], "b": [1.0, 2.0], "k": ["p", 5]})
    assert bad.tolist() == [False, True]
    assert reasons[1] == "input 'a': expected FP64, got string 'x' at row 1"


def test_chunk_wide_problems_still_raise() -> None:
    with pytest.raises(InvalidInputError, match="missing input 'b'"):
        _validator().invalid_rows({"a": [1.0], "k": ["x"]})
    with pytest.raises(InvalidInputError, match="has 1 rows"):
        _validator().invalid_rows({"a": [1.0, 2.0], "b": [1.0], "k": ["x", "y"]})
