"""Find user code by reference: ``path/to/file.py:name`` or ``package.module:name``.

A fresh process (``dockyard step run``) must find a step again from the reference
recorded in the plan, so a file loaded by path is recorded by path, never by the
synthetic module name it got here.

No other process can import that synthetic name, so a value whose class is defined in
such a file (a model class in ``train.py``) cannot be pickled by reference to it: the
module is marked ``__dockyard_pickle_by_value__ = True``, and the pickle materializer
saves the classes and functions of marked modules by value, so ``dockyard serve`` loads
them without the file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from dockyard.errors import UserCodeLoadError

_PREFIX = "_dockyard_file_"
#: Set in the namespace of every module loaded from a file by path: pickle it by value.
PICKLE_BY_VALUE = "__dockyard_pickle_by_value__"


def _module_name_for(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"{_PREFIX}{path.stem}_{digest}"


def module_ref(module_name: str) -> str:
    """How to refer to a loaded module from another process (path for file modules)."""
    module = sys.modules.get(module_name)
    path: str | None = getattr(module, "__file__", None)
    if path and (module_name == "__main__" or module_name.startswith(_PREFIX)):
        return os.path.abspath(path)
    return module_name


def _load_file(path: Path) -> Any:
    path = path.resolve()
    name = _module_name_for(path)
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise UserCodeLoadError(
            f"No such file: {path}. Give a path to a .py file or an importable module, "
            f"e.g. pipelines/train.py:training or mypkg.pipelines:training."
        )
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # sibling imports work as when running the script
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeLoadError(f"{path} cannot be loaded as a Python module.")
    module = importlib.util.module_from_spec(spec)
    setattr(module, PICKLE_BY_VALUE, True)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        line = (exc.text or "").strip()
        raise UserCodeLoadError(
            f"Syntax error in {path}, line {exc.lineno}: {exc.msg}"
            + (f"\n    {line}" if line else "")
        ) from exc
    except Exception as exc:
        del sys.modules[name]
        raise UserCodeLoadError(f"Importing {path} raised {type(exc).__name__}: {exc}") from exc
    return module


def _load_module(name: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # like `python -m`: the project folder is importable
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UserCodeLoadError(
                f"No module named {name!r} (and no file of that name). Check the spelling, "
                f"run from the project folder, or give a path: path/to/file.py:pipeline."
            ) from exc
        raise UserCodeLoadError(f"Importing {name} raised ModuleNotFoundError: {exc}") from exc
    except SyntaxError as exc:
        raise UserCodeLoadError(
            f"Syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}"
        ) from exc
    except Exception as exc:
        raise UserCodeLoadError(f"Importing {name} raised {type(exc).__name__}: {exc}") from exc


def load_module(target: str) -> Any:
    if target.endswith(".py") or os.sep in target or "/" in target:
        return _load_file(Path(target))
    return _load_module(target)


def load_object(ref: str) -> Any:
    """Load ``target:attr.path``. Raises UserCodeLoadError with what to do."""
    target, sep, attr = ref.rpartition(":")
    if not sep or not target:
        raise UserCodeLoadError(
            f"Expected FILE_OR_MODULE:NAME, got {ref!r} (e.g. pipeline.py:training)."
        )
    obj = load_module(target)
    for part in attr.split("."):
        if part == "<locals>" or not hasattr(obj, part):
            raise UserCodeLoadError(f"{target} has no {attr!r}." + _suggest(load_module(target)))
        obj = getattr(obj, part)
    return obj


def _is_pipeline(value: Any) -> bool:
    # By name, not isinstance: the pipeline module uses this one (no import cycle).
    cls = type(value)
    return cls.__module__ == "dockyard.pipelines.pipeline" and cls.__qualname__ == "Pipeline"


def _suggest(module: Any) -> str:
    names = [n for n, v in vars(module).items() if _is_pipeline(v)]
    return f" Pipelines defined there: {', '.join(names)}." if names else " It defines no pipeline."
