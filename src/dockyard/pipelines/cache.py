"""Cache keys, and the fingerprint of a step's code *including the user code it calls*.

ZenML#1011: a cache keyed on the step's own source misses an edit to a helper the step
calls and serves a stale result. Here the fingerprint follows every global name the step
(and each nested function/lambda/comprehension in it) refers to, and folds in the source
of whatever of those lives in the user's own code: functions, classes, and whole user
modules referenced as ``mod.helper``. Library code (stdlib, site-packages, dockyard) is
identified by its distribution version instead of being read. When unsure it hashes more,
never less: a spurious miss costs a re-run, a stale hit costs a wrong model.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping
from typing import Any

_DOCKYARD_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_ROOTS = (
    *{
        p
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_path(key))
    },
    _DOCKYARD_ROOT + os.sep,
)
_fingerprints: dict[int, tuple[Callable[..., Any], str]] = {}


def _is_user_file(path: str | None) -> bool:
    if not path or path.startswith("<"):
        return False
    if "site-packages" in path or "dist-packages" in path:
        return False
    return not path.startswith(_LIBRARY_ROOTS)


def _source_of(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        # No source (REPL, exec): the bytecode still changes when the code does.
        return repr(code.co_code + repr(code.co_consts).encode()) if code else repr(obj)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _walk(obj: Any, digest: Any, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, types.ModuleType):
        path = getattr(obj, "__file__", None)
        if _is_user_file(path):
            try:
                with open(path, "rb") as fh:  # type: ignore[arg-type]
                    digest.update(fh.read())
            except OSError:
                digest.update(repr(obj).encode())
        return
    func = getattr(obj, "__wrapped__", None) or getattr(obj, "func", None) or obj
    if isinstance(func, type):
        if _is_user_file(getattr(sys.modules.get(func.__module__), "__file__", None)):
            digest.update(_source_of(func).encode())
            for attr in vars(func).values():
                if isinstance(attr, types.FunctionType):
                    _walk_function(attr, digest, seen)
        return
    if isinstance(func, types.FunctionType):
        if _is_user_file(func.__code__.co_filename):
            _walk_function(func, digest, seen)
        return


def _walk_function(func: types.FunctionType, digest: Any, seen: set[int]) -> None:
    seen.add(id(func))
    digest.update(_source_of(func).encode())
    digest.update(repr(func.__defaults__).encode())
    g = func.__globals__
    for name in sorted(_code_names(func.__code__)):
        if name in g:
            _walk(g[name], digest, seen)
    for cell in func.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        _walk(value, digest, seen)


def code_fingerprint(func: Callable[..., Any]) -> str:
    """SHA-256 over the step function's source and the user code it reaches.

    Memoised per function object: a process that reloads user code gets new objects.
    """
    cached = _fingerprints.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    digest = hashlib.sha256()
    if isinstance(func, types.FunctionType):
        _walk_function(func, digest, set())
    else:
        digest.update(_source_of(func).encode())
    value = digest.hexdigest()
    _fingerprints[id(func)] = (func, value)
    return value


def cache_key(
    *,
    code: str,
    params: Mapping[str, Any],
    input_hashes: Mapping[str, str],
    materializers: str,
    cache_version: str,
) -> str:
    """The key under which a step's outputs may be reused."""
    payload = json.dumps(
        [code, params, sorted(input_hashes.items()), materializers, cache_version],
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(payload.encode()).hexdigest()
