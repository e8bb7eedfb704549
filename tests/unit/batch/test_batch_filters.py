"""The --filter grammar: COLUMN OP LITERAL joined by and, never evaluated."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dockyard.batch.filters import Condition, parse_filter, to_expression
from dockyard.errors import BatchError


def test_parses_conditions_joined_by_and() -> None:
    assert parse_filter("region = 'EU' AND age >= 18 and `my col` != 1.5") == [
        Condition("region", "==", "EU"),
        Condition("age", ">=", 18),
        Condition("my col", "!=", 1.5),
    ]


def test_quotes_and_booleans() -> None:
    assert parse_filter("name = 'O''Brien' and ok = true") == [
        Condition("name", "==", "O'Brien"),
        Condition("ok", "==", True),
    ]


def test_expression_filters_rows() -> None:
    table = pa.table({"region": ["EU", "US", "EU"], "age": [20, 30, 10]})
    expr = to_expression(parse_filter("region = 'EU' and age > 15"), table.column_names)
    assert table.filter(expr).to_pydict() == {"region": ["EU"], "age": [20]}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("region = EU", "quote strings"),
        ("region = 'EU' or age > 3", "join conditions with 'and'"),
        ("__import__('os')", "Cannot parse the filter"),
        ("region", "expected COLUMN OP VALUE"),
        ("", "An empty filter"),
    ],
)
def test_bad_filters_say_why(text: str, words: str) -> None:
    with pytest.raises(BatchError, match=words):
        parse_filter(text)


def test_unknown_column_is_named() -> None:
    with pytest.raises(BatchError, match=r"column 'nope'.*columns are region, age"):
        to_expression(parse_filter("nope = 1"), ["region", "age"])
