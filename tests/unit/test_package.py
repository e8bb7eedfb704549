"""Package hygiene: a light `import dockyard`, a curated public API, enforced layers."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import dockyard
from dockyard import _plugins

HEAVY = (
    "pandas",
    "numpy",
    "sklearn",
    "fastapi",
    "dask",
    "sqlalchemy",
    "pyarrow",
    "fsspec",
    "boto3",
)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_dockyard_loads_nothing_heavy() -> None:
    """`import dockyard` happens in every worker, CLI call and test: it must stay cheap."""
    loaded = _modules_after("import dockyard")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_authoring_api_loads_nothing_heavy() -> None:
    """Defining steps and pipelines must not pull in the stores or data libraries."""
    loaded = _modules_after("from dockyard import step, pipeline")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_public_api() -> None:
    assert set(dockyard.__all__) >= {"step", "pipeline", "Run", "DockyardError", "load_stack"}
    for name in dockyard.__all__:
        assert getattr(dockyard, name) is not None
    with pytest.raises(AttributeError):
        dockyard.no_such_thing  # noqa: B018


PACKAGES = [
    "dockyard",
    "dockyard.artifacts",
    "dockyard.dashboard",
    "dockyard.db",
    "dockyard.events",
    "dockyard.lake",
    "dockyard.metadata",
    "dockyard.orchestrators",
    "dockyard.packaging",
    "dockyard.pipelines",
    "dockyard.registry",
    "dockyard.rollout",
    "dockyard.runtime",
    "dockyard.schedules",
    "dockyard.serving",
    "dockyard.stacks",
    "dockyard.testing",
]


def _exposed(package: ModuleType) -> set[str]:
    """What a package offers: its lazily re-exported names and the public names bound in
    it that dockyard defines (not submodules, typing helpers or ``annotations``)."""
    eager = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and str(getattr(value, "__module__", "")).startswith("dockyard")
    }
    return eager | set(getattr(package, "_EXPORTS", {}))


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_public_api(name: str) -> None:
    """Each package's ``__all__`` names exactly what it offers, as httpx checks its own
    (``test_exported_members.py``): a name added without ``__all__`` is an accident, a
    name in ``__all__`` that does not resolve is a broken promise."""
    package = importlib.import_module(name)
    exported = list(package.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for member in exported:
        assert getattr(package, member) is not None, member
    assert set(exported) == _exposed(package)


def test_builtins_are_registered_as_plugins() -> None:
    """Built-ins go through entry points like third-party plug-ins (open/closed)."""
    assert {"local", "local-parallel"} <= set(_plugins.available("dockyard.orchestrators"))
    assert {"local", "fsspec"} <= set(_plugins.available("dockyard.artifact_stores"))
    assert "sql" in _plugins.available("dockyard.metadata_stores")
    assert "sql" in _plugins.available("dockyard.registry_stores")
    assert "sql" in _plugins.available("dockyard.deployment_stores")
    assert {"registry_store", "deployment_store"} <= set(_plugins.available("dockyard.stack_kinds"))
    assert "sklearn" in _plugins.available("dockyard.framework_adapters")
    assert {"builtins", "numpy", "pandas", "sklearn", "cloudpickle"} <= set(
        _plugins.available("dockyard.materializers")
    )


def test_unknown_plugin_message() -> None:
    with pytest.raises(
        KeyError, match=r"Unknown orchestrator 'nope'\. Installed: dask, local, local-parallel"
    ):
        _plugins.load("dockyard.orchestrators", "nope")


def test_import_layers_hold() -> None:
    """The contexts' import direction (pyproject [tool.importlinter]) is part of the design."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is part of the test extra"
    proc = subprocess.run([exe], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
