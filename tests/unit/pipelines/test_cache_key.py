"""The cache key changes whenever the step's result could (ZenML#1011 must not recur)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from dockyard.pipelines.cache import cache_key, code_fingerprint


def _write_module(folder: Path, name: str, body: str):
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def modpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_editing_a_helper_function_changes_the_fingerprint(modpath: Path) -> None:
    """A step calling an edited helper must miss the cache (the ZenML#1011 stale hit)."""
    body = """
        def helper(x):
            return x + {n}

        def my_step(x):
            return helper(x)
    """
    m1 = _write_module(modpath, "userpkg_a", body.format(n=1))
    f1 = code_fingerprint(m1.my_step)
    m2 = _write_module(modpath, "userpkg_a", body.format(n=2))
    assert code_fingerprint(m2.my_step) != f1


def test_helper_in_another_user_module_is_followed(modpath: Path) -> None:
    """Helpers are often in a sibling module: `from helpers import clean` or `helpers.clean`."""
    _write_module(modpath, "helpers_b", "def clean(x):\n    return x\n")
    m = _write_module(
        modpath,
        "steps_b",
        """
        import helpers_b
        from helpers_b import clean

        def via_module(x):
            return helpers_b.clean(x)

        def via_name(x):
            return clean(x)
        """,
    )
    before = (code_fingerprint(m.via_module), code_fingerprint(m.via_name))
    _write_module(modpath, "helpers_b", "def clean(x):\n    return x * 2\n")
    m = _write_module(
        modpath,
        "steps_b",
        """
        import helpers_b
        from helpers_b import clean

        def via_module(x):
            return helpers_b.clean(x)

        def via_name(x):
            return clean(x)
        """,
    )
    assert code_fingerprint(m.via_module) != before[0]
    assert code_fingerprint(m.via_name) != before[1]


def test_helper_called_from_a_nested_function_or_class(modpath: Path) -> None:
    body = """
        class Scaler:
            def apply(self, x):
                return x * {n}

        def my_step(xs):
            return [Scaler().apply(x) for x in xs]
    """
    m1 = _write_module(modpath, "userpkg_c", body.format(n=1))
    f1 = code_fingerprint(m1.my_step)
    m2 = _write_module(modpath, "userpkg_c", body.format(n=3))
    assert code_fingerprint(m2.my_step) != f1


def test_library_code_is_not_read() -> None:
    """Fingerprinting must stay cheap: stdlib and site-packages are not hashed."""
    import json

    def uses_json(x):
        return json.dumps(x)

    assert len(code_fingerprint(uses_json)) == 64


def test_recursive_helpers_terminate(modpath: Path) -> None:
    m = _write_module(
        modpath,
        "userpkg_d",
        """
        def even(n):
            return n == 0 or odd(n - 1)

        def odd(n):
            return n != 0 and even(n - 1)
        """,
    )
    assert code_fingerprint(m.even)


def test_cache_key_covers_params_inputs_materializers_and_version() -> None:
    base = dict(
        code="c", params={"a": 1}, input_hashes={"x": "h"}, materializers="m", cache_version=""
    )
    key = cache_key(**base)
    assert cache_key(**base) == key
    for change in (
        {"code": "c2"},
        {"params": {"a": 2}},
        {"input_hashes": {"x": "h2"}},
        {"materializers": "m2"},
        {"cache_version": "2"},
    ):
        assert cache_key(**{**base, **change}) != key
