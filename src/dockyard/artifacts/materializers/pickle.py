"""The fallback: anything cloudpickle can serialise. Marked unsafe.

Loading a pickle can run arbitrary code, so artifacts written by this materializer are
``unsafe``: the pipelines layer loads them in another process only with an explicit
``trust_pickle`` opt-in. It matches ``builtins.object`` with the lowest priority, so any
other materializer that fits wins. ``can_save`` really pickles the value (threads locks,
generators and open sockets cannot be pickled), and the bytes are reused by ``save``.

Classes are pickled by reference to their module, which the loading process imports.
A pipeline file loaded by path gets a module name no other process can import
(``_dockyard_file_train_<hash>``), so a model class defined there would load nowhere
else (``dockyard serve`` would fail with ModuleNotFoundError). Such modules carry
``__dockyard_pickle_by_value__ = True`` in their namespace (set by
``dockyard.pipelines.loader``), and their classes and functions are pickled by value.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from dockyard.artifacts.materializers._trial import TrialMaterializer

#: The mark of a module that no other process can import (see the module docstring).
PICKLE_BY_VALUE = "__dockyard_pickle_by_value__"
_by_value: set[str] = set()


def _register_by_value(cloudpickle: Any) -> None:
    """Tell cloudpickle to pickle every marked module loaded so far by value."""
    for name, module in list(sys.modules.items()):
        # The namespace itself: a module's __getattr__ must not run (nor fail) here.
        if (
            name not in _by_value
            and isinstance(module, ModuleType)
            and module.__dict__.get(PICKLE_BY_VALUE) is True
        ):
            cloudpickle.register_pickle_by_value(module)
            _by_value.add(name)


class CloudpickleMaterializer(TrialMaterializer):
    """Any picklable value, with cloudpickle (which also handles lambdas and local classes)."""

    name = "cloudpickle"
    version = "1"
    type_names = ("builtins.object",)
    priority = -1_000_000
    unsafe = True

    def _serialise(self, obj: Any) -> bytes:
        import cloudpickle

        _register_by_value(cloudpickle)
        return bytes(cloudpickle.dumps(obj))

    def load(self, data: bytes, data_type: str) -> Any:
        import cloudpickle

        return cloudpickle.loads(data)
