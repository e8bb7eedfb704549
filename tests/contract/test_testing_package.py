"""``dockyard.testing``: the contract suites as a package plug-in authors import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dockyard.testing


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_every_exported_suite_is_a_class_pytest_does_not_collect() -> None:
    """A plug-in author subclasses a suite in a ``Test*`` class; the suite itself must not
    be collected wherever it is imported, or its abstract fixtures would error there."""
    assert dockyard.testing.__all__ == sorted(dockyard.testing.__all__)
    for name in dockyard.testing.__all__:
        suite = getattr(dockyard.testing, name)
        assert isinstance(suite, type)
        assert suite.__name__ == name
        assert name.endswith("Contract")
        assert not name.startswith("Test")
        assert [m for m in vars(suite) if m.startswith("test_")], name
        for attr in vars(suite):
            if attr.startswith("test_"):
                assert getattr(suite, attr).__doc__, f"{name}.{attr} says no rule"
    assert set(dockyard.testing.__all__) <= set(dir(dockyard.testing))
    with pytest.raises(AttributeError):
        dockyard.testing.NoSuchContract  # noqa: B018


def test_importing_the_package_is_lazy_and_dockyard_never_imports_it() -> None:
    """The suites need pytest, which a deployed model server does not install: nothing
    but a test may import them, and ``import dockyard.testing`` loads no suite yet."""
    assert "dockyard.testing" not in _modules_after("import dockyard")
    loaded = _modules_after("import dockyard.testing")
    assert "pytest" not in loaded
    assert not {m for m in loaded if m.startswith("dockyard.testing.")}


def test_suites_use_no_test_helpers_of_this_repository() -> None:
    """A plug-in's tests have no ``tests/conftest.py`` or ``tests/support.py`` of ours."""
    names = ", ".join(dockyard.testing.__all__)
    loaded = _modules_after(f"from dockyard.testing import {names}")
    assert not loaded & {"conftest", "support"}
    assert not {m for m in loaded if m.startswith("pytest_")}  # no pytest plug-in either
