"""Framework adapters: the plug-in port that calls one framework's model on a batch.

:class:`FrameworkAdapter` is what a framework plugs in (``dockyard.framework_adapters``
entry points); :class:`PredictAdapter` serves scikit-learn estimators and any object with
``predict``. :func:`select_adapter` picks one for a model. A
:class:`~dockyard.runtime.model.ModelRuntime` wraps the chosen adapter with the model
version's signature.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from dockyard import _plugins
from dockyard.errors import ServingError

__all__ = ["ADAPTERS_GROUP", "FrameworkAdapter", "PredictAdapter", "select_adapter"]

log = logging.getLogger(__name__)

ADAPTERS_GROUP = "dockyard.framework_adapters"


class FrameworkAdapter(ABC):
    """Port: run one framework's model on a batch that already fits the signature.

    A plug-in subclasses it and registers the class in the ``dockyard.framework_adapters`` entry
    point group; :func:`select_adapter` asks each installed class :meth:`can_load`::

        class OnnxAdapter(FrameworkAdapter):
            platform = "onnxruntime"

            @classmethod
            def can_load(cls, model):
                return type(model).__name__ == "InferenceSession"

            def predict(self, batch):
                name = self.model.get_inputs()[0].name
                return self.model.run(None, {name: batch.astype("float32")})[0]

        # pyproject.toml of the plug-in:
        # [project.entry-points."dockyard.framework_adapters"]
        # onnx = "my_pkg.adapter:OnnxAdapter"

    Attributes:
        platform: shown as the V2 model metadata ``platform``.
        wants_frame: give :meth:`predict` a pandas DataFrame with the signature's column
            names rather than a 2-D numpy array.
    """

    platform: ClassVar[str] = "python"
    wants_frame: bool = False

    def __init__(self, model: Any, *, predict_proba: bool = False) -> None:
        self.model = model
        self.predict_proba = predict_proba

    @classmethod
    def can_load(cls, model: Any) -> bool:
        """Whether this runtime knows how to run ``model``."""
        return False

    @abstractmethod
    def predict(self, batch: Any) -> np.ndarray:
        """Predict a batch: one output row per input row (first axis)."""

    def for_arrays(self) -> FrameworkAdapter | None:
        """An equivalent adapter that takes the 2-D array instead of a DataFrame.

        Only asked when :attr:`wants_frame` is true; None (the default) keeps the
        DataFrame. The runtime uses the answer only after checking it gives the same
        predictions as this adapter on probe rows.
        """
        return None


class PredictAdapter(FrameworkAdapter):
    """scikit-learn estimators and pipelines, and any object with ``predict``.

    With ``predict_proba=True`` it calls ``predict_proba`` (class probabilities).
    A model fitted on a DataFrame (it has ``feature_names_in_``) gets a DataFrame.
    """

    platform = "python"

    def __init__(self, model: Any, *, predict_proba: bool = False) -> None:
        super().__init__(model, predict_proba=predict_proba)
        if predict_proba and not callable(getattr(model, "predict_proba", None)):
            raise ServingError(
                f"{type(model).__name__} has no predict_proba(); serve it without predict_proba"
            )
        self._fn = model.predict_proba if predict_proba else model.predict
        self.wants_frame = hasattr(model, "feature_names_in_")
        if type(model).__module__.startswith("sklearn"):
            self.platform = "sklearn"  # type: ignore[misc]

    @classmethod
    def can_load(cls, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def predict(self, batch: Any) -> np.ndarray:
        return np.asarray(self._fn(batch))

    def for_arrays(self) -> FrameworkAdapter | None:
        """The same model, minus the recorded feature names, so it takes arrays silently.

        A scikit-learn estimator fitted on a DataFrame checks the names of a DataFrame
        and then works on its values; given those values in the same column order it
        computes the same thing, but it warns on every call about the missing names.
        Building a one-row DataFrame and reading it back costs 4-5x the model's own
        predict here (``benchmarks/README.md``, Serving), so a shallow copy without
        ``feature_names_in_`` (weights shared, nothing retrained) serves arrays instead.
        Pipelines are handled through their first step; a model that selects columns by
        name (a ``ColumnTransformer``) fails the runtime's probe and keeps DataFrames.
        """
        clone = _without_feature_names(self.model)
        if clone is None:
            return None
        adapter = type(self)(clone, predict_proba=self.predict_proba)
        adapter.wants_frame = False
        adapter.platform = self.platform  # type: ignore[misc]
        return adapter


def _without_feature_names(model: Any) -> Any | None:
    """A shallow copy of ``model`` that no longer records input feature names, or None."""
    import copy

    if "feature_names_in_" in vars(model):
        clone = copy.copy(model)
        del clone.feature_names_in_
        return clone
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[0], tuple) and len(steps[0]) == 2:
        first = _without_feature_names(steps[0][1])
        if first is None:
            return None
        clone = copy.copy(model)
        clone.steps = [(steps[0][0], first), *steps[1:]]
        return clone
    return None


def select_adapter(
    model: Any,
    *,
    predict_proba: bool = False,
    kind: str | type[FrameworkAdapter] | FrameworkAdapter | None = None,
) -> FrameworkAdapter:
    """Pick and build the :class:`FrameworkAdapter` for ``model``.

    Args:
        kind: an adapter instance or class to use as is, the name of a
            ``dockyard.framework_adapters`` entry point, or None to ask every installed plug-in's
            ``can_load`` (sorted by name) and fall back to :class:`PredictAdapter`.

    Raises:
        UnknownComponentError: ``kind`` names no installed adapter.
        ServingError: no adapter can run this model.
    """
    if isinstance(kind, FrameworkAdapter):
        return kind
    if isinstance(kind, type):
        return kind(model, predict_proba=predict_proba)
    if isinstance(kind, str):
        cls = _plugins.load(ADAPTERS_GROUP, kind)
        return cls(model, predict_proba=predict_proba)  # type: ignore[no-any-return]
    for name in _plugins.available(ADAPTERS_GROUP):
        try:
            cls = _plugins.load(ADAPTERS_GROUP, name)
        except Exception as exc:  # a broken plug-in must not stop sklearn models serving
            log.warning("framework adapter plug-in %r cannot be loaded: %s", name, exc)
            continue
        if cls is not PredictAdapter and cls.can_load(model):
            return cls(model, predict_proba=predict_proba)  # type: ignore[no-any-return]
    if PredictAdapter.can_load(model):
        return PredictAdapter(model, predict_proba=predict_proba)
    installed = ", ".join(_plugins.available(ADAPTERS_GROUP)) or "none"
    raise ServingError(
        f"no framework adapter can run a {type(model).__module__}.{type(model).__name__}: it has no "
        f"predict(). Install the dockyard.framework_adapters plug-in for its framework "
        f"(installed: {installed})"
    )
