"""JSON for plain Python values: None, bool, int, float, str, list, tuple and dict.

The bytes are readable JSON. Two things plain JSON would lose are kept exactly: tuples
(anywhere, not only at the top) and dict keys that are not strings (``{1: "a"}`` does not
come back as ``{"1": "a"}``). Both are written as a tagged object::

    {"__dockyard__": "tuple", "items": [1, 2]}
    {"__dockyard__": "dict", "items": [[1, "a"], [2, "b"]]}

NaN and infinities round-trip (written as ``NaN``/``Infinity``, which Python's ``json``
reads back; strict JSON parsers elsewhere would refuse them).

Only the exact built-in types are accepted, at every level: a ``Counter``, a namedtuple,
an ``IntEnum`` or a ``numpy.float64`` would come back as a plain dict, tuple, int or
float and break the next step's code, so such values go to a materializer that keeps
their type (the cloudpickle fallback, unless a better one is registered).
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.artifacts.materializers._trial import TrialMaterializer

_TAG = "__dockyard__"
_SCALARS = (type(None), bool, int, float, str)


class _NotJson(TypeError):
    pass


def _encode(obj: Any) -> Any:
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if cls is list:
        return [_encode(v) for v in obj]
    if cls is tuple:
        return {_TAG: "tuple", "items": [_encode(v) for v in obj]}
    if cls is dict:
        if all(type(k) is str for k in obj) and _TAG not in obj:
            return {k: _encode(v) for k, v in obj.items()}
        return {_TAG: "dict", "items": [[_encode(k), _encode(v)] for k, v in obj.items()]}
    raise _NotJson(f"{cls.__module__}.{cls.__qualname__} is not a plain JSON type")


def _freeze(key: Any) -> Any:
    # Tuple keys were written as lists inside the tagged form; _decode already rebuilt
    # them as tuples, so only a list here would be a malformed file.
    if isinstance(key, list):
        raise ValueError("a dict key decoded to a list; the JSON artifact is malformed")
    return key


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get(_TAG)
    if kind is None:
        return obj
    if kind == "tuple":
        return tuple(obj["items"])
    if kind == "dict":
        return {_freeze(k): v for k, v in obj["items"]}
    raise ValueError(f"unknown tag {kind!r} in a JSON artifact")


class JsonMaterializer(TrialMaterializer):
    """None, bool, int, float, str, list, tuple and dict of those, as JSON."""

    name = "builtins"
    version = "1"
    type_names = (
        "builtins.NoneType",
        "builtins.bool",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.list",
        "builtins.tuple",
        "builtins.dict",
    )

    def _serialise(self, obj: Any) -> bytes:
        # allow_nan: NaN/inf round-trip through Python's json; ensure_ascii=False keeps
        # text readable; a self-containing list ends in RecursionError, refused above.
        text = json.dumps(_encode(obj), allow_nan=True, ensure_ascii=False)
        return text.encode("utf-8")

    def load(self, data: bytes, data_type: str) -> Any:
        return json.loads(data.decode("utf-8"), object_hook=_decode)
