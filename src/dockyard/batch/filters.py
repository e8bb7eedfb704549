"""``--filter "region = 'EU' and age >= 18"``: a small, safe grammar for row filters.

A filter is one or more comparisons ``COLUMN OP LITERAL`` joined by ``and`` (any case).
``OP`` is one of ``=``, ``==``, ``!=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``; a literal is
a quoted string (``'EU'`` or ``"EU"``, a doubled quote inside stands for one), an integer,
a decimal number, ``true`` or ``false``. A column name is an identifier (letters,
digits, ``_``, ``.``), or any text in backticks (```my col` > 3``). Nothing is
evaluated: the text is tokenized and turned into conditions, then into a pyarrow
expression::

    >>> parse_filter("region = 'EU' and age >= 18")
    [Condition(column='region', op='==', value='EU'), Condition(column='age', op='>=', value=18)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.errors import BatchError

if TYPE_CHECKING:
    import pyarrow.compute as pc

__all__ = ["Condition", "parse_filter", "to_expression"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<op><=|>=|<>|!=|==|=|<|>)
      | (?P<quoted>`[^`]+`)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)

_OPS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison of a column with a literal."""

    column: str
    op: str
    value: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise BatchError(
                f"Cannot parse the filter {text!r} at {text[pos:].strip()[:20]!r}: write "
                "COLUMN OP VALUE joined by 'and', e.g. \"region = 'EU' and age >= 18\"."
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    if kind == "number":
        return float(text) if any(c in text for c in ".eE") else int(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None


def parse_filter(text: str) -> list[Condition]:
    """Parse a filter into its conditions (all must hold).

    Raises:
        BatchError: the text is not ``COLUMN OP VALUE [and ...]``; says where.
    """
    if not isinstance(text, str) or not text.strip():
        raise BatchError("An empty filter: write COLUMN OP VALUE, e.g. \"region = 'EU'\".")
    tokens = _tokens(text)
    conditions: list[Condition] = []
    i = 0
    while True:
        part = tokens[i : i + 3]
        if len(part) < 3 or part[0][0] not in ("word", "quoted") or part[1][0] != "op":
            shown = " ".join(t for _, t in tokens[i : i + 3]) or "the end"
            raise BatchError(
                f"Cannot parse the filter {text!r} at {shown!r}: expected COLUMN OP VALUE "
                "(OP one of = != < <= > >=, VALUE a quoted string, a number, true or false)."
            )
        (ckind, column), (_, op), (vkind, vtext) = part
        value = _literal(vkind, vtext) if vkind in ("string", "number", "word") else None
        if value is None:
            raise BatchError(
                f"Cannot parse the filter {text!r}: {vtext!r} is not a value; quote strings "
                f"('{vtext}')."
            )
        name = column[1:-1] if ckind == "quoted" else column
        conditions.append(Condition(name, _OPS[op], value))
        i += 3
        if i == len(tokens):
            return conditions
        if tokens[i][0] != "word" or tokens[i][1].lower() != "and":
            raise BatchError(
                f"Cannot parse the filter {text!r} at {tokens[i][1]!r}: join conditions "
                "with 'and' (for 'or', run one job per condition)."
            )
        i += 1


def to_expression(conditions: list[Condition], columns: list[str] | None = None) -> pc.Expression:
    """The pyarrow expression of ``conditions`` (all joined by and).

    Args:
        conditions: from :func:`parse_filter`.
        columns: the input's columns; a condition on another one is an error.

    Raises:
        BatchError: a condition names a column the input does not have.
    """
    import pyarrow.compute as pc

    if columns is not None:
        unknown = [c.column for c in conditions if c.column not in columns]
        if unknown:
            raise BatchError(
                f"The filter names column {unknown[0]!r}, which the input does not have; "
                f"its columns are {', '.join(columns)}."
            )
    expression: pc.Expression | None = None
    for c in conditions:
        field = pc.field(c.column)
        term = {
            "==": field == c.value,
            "!=": field != c.value,
            "<": field < c.value,
            "<=": field <= c.value,
            ">": field > c.value,
            ">=": field >= c.value,
        }[c.op]
        expression = term if expression is None else expression & term
    if expression is None:
        raise BatchError("An empty filter.")
    return expression
