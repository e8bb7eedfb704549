"""The fallback: anything cloudpickle can serialise. Marked unsafe.

Loading a pickle can run arbitrary code, so artifacts written by this materializer are
``unsafe``: the pipelines layer loads them in another process only with an explicit
``trust_pickle`` opt-in. It matches ``builtins.object`` with the lowest priority, so any
other materializer that fits wins. ``can_save`` really pickles the value (threads locks,
generators and open sockets cannot be pickled), and the bytes are reused by ``save``.
"""

from __future__ import annotations

from typing import Any

from dockyard.artifacts.materializers._trial import TrialMaterializer


class CloudpickleMaterializer(TrialMaterializer):
    """Any picklable value, with cloudpickle (which also handles lambdas and local classes)."""

    name = "cloudpickle"
    version = "1"
    type_names = ("builtins.object",)
    priority = -1_000_000
    unsafe = True

    def _serialise(self, obj: Any) -> bytes:
        import cloudpickle

        return bytes(cloudpickle.dumps(obj))

    def load(self, data: bytes, data_type: str) -> Any:
        import cloudpickle

        return cloudpickle.loads(data)
