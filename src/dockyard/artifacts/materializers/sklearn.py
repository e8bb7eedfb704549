"""scikit-learn estimators with skops: a format that loads without running pickle.

``skops.io`` rebuilds an estimator from a description of its types and state, and refuses
types nobody trusted. Here the only types trusted on load are the ones from
``sklearn``, ``numpy`` and ``scipy`` modules; anything else in the file (a function from
the user's module in a ``FunctionTransformer``, a third-party estimator) means the file
is refused with :class:`~dockyard.errors.UnsafeArtifactError`.

``can_save`` writes the estimator and checks the same rule, so an estimator that would
not load back under it goes to the next materializer (the cloudpickle fallback, marked
unsafe) instead of producing an artifact nobody can read.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from dockyard.artifacts.materializers._trial import TrialMaterializer
from dockyard.errors import UnsafeArtifactError

#: Top-level packages whose types a skops file may contain and still be loaded.
TRUSTED_PACKAGES = frozenset({"sklearn", "numpy", "scipy"})


def _skops_io() -> ModuleType:
    """``skops.io``, imported without pytest.

    Importing skops lists every scikit-learn estimator (``sklearn.utils.all_estimators``),
    which imports ``sklearn.utils._testing``, which imports pytest when it is installed:
    ~6 MB in each serving process for test markers nobody uses (pytest is in many
    serving environments). ``sklearn`` guards that import with ``except ImportError``,
    so pytest is hidden while skops loads, unless something imported it already.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    hide = "pytest" not in sys.modules
    if hide:
        sys.modules["pytest"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        return importlib.import_module("skops.io")
    finally:
        if hide:
            del sys.modules["pytest"]


def _split_untrusted(data: bytes) -> tuple[list[str], list[str]]:
    """The untrusted types skops reports in ``data``: (from trusted packages, others)."""
    skops_io = _skops_io()
    names = list(skops_io.get_untrusted_types(data=data))
    ok = [n for n in names if n.split(".", 1)[0] in TRUSTED_PACKAGES]
    return ok, [n for n in names if n not in ok]


class SkopsMaterializer(TrialMaterializer):
    """scikit-learn estimators (anything deriving ``sklearn.base.BaseEstimator``)."""

    name = "sklearn"
    version = "1"
    type_names = ("sklearn.base.BaseEstimator",)

    def _serialise(self, obj: Any) -> bytes:
        data = bytes(_skops_io().dumps(obj))
        _, others = _split_untrusted(data)
        if others:
            raise TypeError(f"skops would need to trust {', '.join(others)} to load it")
        return data

    def load(self, data: bytes, data_type: str) -> Any:
        trusted, others = _split_untrusted(data)
        if others:
            raise UnsafeArtifactError(
                f"The skops file for {data_type} contains types outside "
                f"{', '.join(sorted(TRUSTED_PACKAGES))}: {', '.join(others)}. Loading them "
                f"could run their code, so it was refused. If you trust this artifact, "
                f"load it yourself with skops.io.loads(data, trusted=[...]) after "
                f"reviewing those types."
            )
        return _skops_io().loads(data, trusted=trusted)
