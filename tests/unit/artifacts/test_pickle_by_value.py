"""Values whose class is defined in a pipeline file load in another process (issue #8,
item 12).

A file loaded by path (``dockyard run train.py:training``) becomes a module with a
synthetic name (``_dockyard_file_train_<hash>``) that no other process can import, so
such classes must be pickled by value, not by reference to that module.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockyard.artifacts import MaterializerRegistry
from dockyard.pipelines.loader import load_module

MODEL_FILE = """
class Doubler:
    '''A model class defined in the user's file, next to its pipeline.'''

    def __init__(self, factor):
        self.factor = factor

    def predict(self, rows):
        return [helper(r[0], self.factor) for r in rows]


def helper(x, factor):
    return x * factor
"""

LOAD = textwrap.dedent(
    """
    import sys
    import cloudpickle

    model = cloudpickle.loads(open(sys.argv[1], "rb").read())
    print(type(model).__name__, model.predict([[1.0], [2.5]]))
    """
)


def _load_elsewhere(blob: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Unpickle ``blob`` in a fresh interpreter, as ``dockyard serve`` would."""
    return subprocess.run(
        [sys.executable, "-c", LOAD, str(blob)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "code" / "train_file.py"
    path.parent.mkdir()
    path.write_text(MODEL_FILE)
    return path


def test_a_class_from_a_file_loaded_by_path_unpickles_in_a_fresh_process(
    user_file: Path, tmp_path: Path
) -> None:
    module = load_module(str(user_file))
    assert module.__name__.startswith("_dockyard_file_train_file_")
    model = module.Doubler(3)
    materializer = MaterializerRegistry().for_object(model)
    assert materializer.name == "cloudpickle"
    blob = tmp_path / "model.pkl"
    blob.write_bytes(materializer.save(model))

    # Somewhere the file is not importable (and the synthetic name never was).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _load_elsewhere(blob, elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Doubler [3.0, 7.5]"


def test_the_same_process_gets_its_own_class_back(user_file: Path) -> None:
    """By value, yet in the writing process the loaded object is still an instance of
    the module's class (cloudpickle tracks the classes it pickled by value)."""
    module = load_module(str(user_file))
    registry = MaterializerRegistry()
    materializer = registry.for_object(module.Doubler(2))
    loaded = materializer.load(materializer.save(module.Doubler(2)), "x.Doubler")
    assert isinstance(loaded, module.Doubler)
    assert loaded.predict([[4]]) == [8]


def test_importable_modules_are_still_pickled_by_reference() -> None:
    """Only modules no other process can import go by value: a class of an installed
    package stays a reference (smaller, and loads the installed code)."""
    import collections

    import cloudpickle

    materializer = MaterializerRegistry().for_object(collections.OrderedDict)
    materializer.save(collections.OrderedDict)  # registers the marked modules, if any
    assert "collections" not in cloudpickle.list_registry_pickle_by_value()
    assert not any(
        name.startswith("dockyard") for name in cloudpickle.list_registry_pickle_by_value()
    )
