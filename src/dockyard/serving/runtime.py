"""One model version, ready to predict: the runtime every delivery mode shares.

Two layers:

- :class:`Runtime`, the plug-in port: calls one framework's model on a validated batch.
  :class:`PredictRuntime` serves scikit-learn estimators and any object with
  ``predict``; other frameworks plug in through the ``dockyard.runtimes`` entry point
  group (see :func:`load_runtime`).
- :class:`ModelRuntime`: a model version (name, version, signature) around a
  :class:`Runtime`. It validates inputs against the signature *before* the model sees
  them (:class:`~dockyard.errors.InvalidInputError`) and turns a model's own exception
  into a :class:`~dockyard.errors.ServingError` naming the model version.

::

    >>> rt = ModelRuntime(model, infer_signature(X_train, y_train), name="iris", version=3)
    >>> rt.predict([[5.1, 3.5, 1.4, 0.2]])
    array([0])
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from dockyard import _plugins
from dockyard.errors import InvalidInputError, ServingError
from dockyard.registry.signature import Signature, batch_rows, datatype_of

if TYPE_CHECKING:
    from dockyard.registry.signature import Batch
    from dockyard.serving.v2 import Tensor

__all__ = ["ModelRuntime", "PredictRuntime", "Runtime", "load_runtime"]

log = logging.getLogger(__name__)

RUNTIMES_GROUP = "dockyard.runtimes"


class Runtime(ABC):
    """Port: run one framework's model on a batch that already fits the signature.

    A plug-in subclasses it and registers the class in the ``dockyard.runtimes`` entry
    point group; :func:`load_runtime` asks each installed class :meth:`can_load`::

        class OnnxRuntime(Runtime):
            platform = "onnxruntime"

            @classmethod
            def can_load(cls, model):
                return type(model).__name__ == "InferenceSession"

            def predict(self, batch):
                name = self.model.get_inputs()[0].name
                return self.model.run(None, {name: batch.astype("float32")})[0]

        # pyproject.toml of the plug-in:
        # [project.entry-points."dockyard.runtimes"]
        # onnx = "my_pkg.runtime:OnnxRuntime"

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


class PredictRuntime(Runtime):
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


def load_runtime(
    model: Any,
    *,
    predict_proba: bool = False,
    kind: str | type[Runtime] | Runtime | None = None,
) -> Runtime:
    """Pick and build the :class:`Runtime` for ``model``.

    Args:
        kind: a runtime instance or class to use as is, the name of a
            ``dockyard.runtimes`` entry point, or None to ask every installed plug-in's
            ``can_load`` (sorted by name) and fall back to :class:`PredictRuntime`.

    Raises:
        UnknownComponentError: ``kind`` names no installed runtime.
        ServingError: no runtime can serve this model.
    """
    if isinstance(kind, Runtime):
        return kind
    if isinstance(kind, type):
        return kind(model, predict_proba=predict_proba)
    if isinstance(kind, str):
        cls = _plugins.load(RUNTIMES_GROUP, kind)
        return cls(model, predict_proba=predict_proba)  # type: ignore[no-any-return]
    for name in _plugins.available(RUNTIMES_GROUP):
        try:
            cls = _plugins.load(RUNTIMES_GROUP, name)
        except Exception as exc:  # a broken plug-in must not stop sklearn models serving
            log.warning("runtime plug-in %r cannot be loaded: %s", name, exc)
            continue
        if cls is not PredictRuntime and cls.can_load(model):
            return cls(model, predict_proba=predict_proba)  # type: ignore[no-any-return]
    if PredictRuntime.can_load(model):
        return PredictRuntime(model, predict_proba=predict_proba)
    installed = ", ".join(_plugins.available(RUNTIMES_GROUP)) or "none"
    raise ServingError(
        f"no runtime can serve a {type(model).__module__}.{type(model).__name__}: it has no "
        f"predict(). Install the dockyard.runtimes plug-in for its framework "
        f"(installed: {installed})"
    )


_COMPATIBLE = {
    "float": {"float", "int"},
    "int": {"int"},
    "BOOL": {"BOOL"},
    "BYTES": {"BYTES"},
}


def _family(datatype: str) -> str:
    if datatype.startswith("FP"):
        return "float"
    if datatype.startswith(("INT", "UINT")):
        return "int"
    return datatype


class ModelRuntime:
    """A model version that validates its inputs and predicts.

    Args:
        model: the loaded model object.
        signature: its input/output signature; None accepts any numeric matrix.
        name: the model's registered name.
        version: its version number.
        predict_proba: answer class probabilities (``predict_proba``) instead of labels.
        runtime: force a runtime (see :func:`load_runtime`'s ``kind``).

    Raises:
        ServingError: no runtime can serve ``model`` or it lacks ``predict_proba``.
    """

    def __init__(
        self,
        model: Any,
        signature: Signature | None = None,
        *,
        name: str,
        version: int,
        predict_proba: bool = False,
        runtime: str | type[Runtime] | Runtime | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ServingError(f"a model name must be a non-empty string without '/', got {name!r}")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ServingError(f"a model version must be a non-negative integer, got {version!r}")
        self.model = model
        self.signature = signature if signature is not None else Signature()
        self.name = name
        self.version = version
        self.predict_proba = predict_proba
        self.runtime = load_runtime(model, predict_proba=predict_proba, kind=runtime)
        self.label = f"{name}:{version}"
        if predict_proba:
            self.output_name = "predict_proba"
        elif self.signature.outputs:
            self.output_name = self.signature.outputs[0].name
        else:
            self.output_name = "predict"
        self._frame_columns: list[str] | None = None
        if self.runtime.wants_frame or not self.signature.is_matrix:
            names = getattr(model, "feature_names_in_", None)
            self._frame_columns = (
                list(self.signature.column_names)
                if self.signature.inputs
                else (list(names) if names is not None else None)
            )

    def __repr__(self) -> str:
        return f"ModelRuntime({self.label}, {type(self.runtime).__name__})"

    # --- validation --------------------------------------------------------------------

    def validate(self, data: Any) -> Batch:
        """Check any supported input (DataFrame, 2-D array, rows, records) and return a batch.

        Raises:
            InvalidInputError: the data does not fit the signature.
        """
        return self.signature.to_batch(data)

    def rows_to_batch(self, rows: Any) -> Batch:
        return self.signature.rows_to_batch(rows)

    def records_to_batch(self, records: Any) -> Batch:
        return self.signature.records_to_batch(records)

    def tensors_to_batch(self, tensors: Sequence[Tensor]) -> Batch:
        """Check V2 input tensors: one 2-D tensor ``[N, features]``, or one per column.

        Raises:
            InvalidInputError: missing or unknown input, wrong shape or datatype, bad values.
        """
        sig = self.signature
        names = set(sig.column_names)
        if len(tensors) == 1 and tensors[0].name not in names:
            tensor = tensors[0]
            width = sig.n_features
            if len(tensor.shape) != 2 or (width is not None and tensor.shape[1] != width):
                raise InvalidInputError(
                    f"input {tensor.name!r}: expected shape [-1, {width or -1}] "
                    f"(rows x features), got {list(tensor.shape)}"
                )
            if sig.matrix_dtype is not None:
                _check_datatype(tensor, sig.matrix_dtype)
            return sig.array_to_batch(tensor.to_numpy())
        by_name = {}
        for tensor in tensors:
            if tensor.name not in names:
                raise InvalidInputError(
                    f"unknown input {tensor.name!r}; the model takes " + self._inputs_description()
                )
            if tensor.name in by_name:
                raise InvalidInputError(f"input {tensor.name!r} is given twice")
            if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
                raise InvalidInputError(
                    f"input {tensor.name!r}: expected shape [-1] or [-1, 1] (one value per "
                    f"row), got {list(tensor.shape)}"
                )
            by_name[tensor.name] = tensor
        for spec in sig.inputs:
            if spec.name not in by_name:
                raise InvalidInputError(
                    f"missing input {spec.name!r}; the model takes " + self._inputs_description()
                )
            _check_datatype(by_name[spec.name], spec.dtype)
        return sig.columns_to_batch({n: t.to_numpy().reshape(-1) for n, t in by_name.items()})

    def _inputs_description(self) -> str:
        sig = self.signature
        cols = ", ".join(sig.column_names)
        if sig.is_matrix:
            return f"one tensor of shape [-1, {sig.n_features or -1}] or one per column ({cols})"
        return cols

    # --- prediction --------------------------------------------------------------------

    def model_input(self, batch: Batch) -> Any:
        """What the framework runtime gets: the array, or a DataFrame when it wants one."""
        if self._frame_columns is None and not isinstance(batch, dict):
            return batch
        import pandas as pd

        if isinstance(batch, dict):
            return pd.DataFrame(batch, columns=self._frame_columns)
        return pd.DataFrame(batch, columns=self._frame_columns)

    def predict_batch(self, batch: Batch) -> np.ndarray:
        """Predict a validated batch (blocking; the HTTP app calls it in a thread).

        Raises:
            ServingError: the model raised (the original is the ``__cause__``) or gave a
                different number of predictions than rows.
        """
        n = batch_rows(batch)
        try:
            out = self.runtime.predict(self.model_input(batch))
        except Exception as exc:
            raise ServingError(
                f"model {self.name} version {self.version} failed on a batch of {n} rows: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        out = np.asarray(out)
        if out.ndim == 0 or out.shape[0] != n:
            raise ServingError(
                f"model {self.name} version {self.version} returned "
                f"{'a scalar' if out.ndim == 0 else out.shape[0]} predictions for {n} rows"
            )
        return out

    def predict(self, data: Any) -> np.ndarray:
        """Validate ``data`` against the signature and predict it (blocking)."""
        return self.predict_batch(self.validate(data))

    # --- description -------------------------------------------------------------------

    def output_datatype(self, result: np.ndarray | None = None) -> str:
        """The V2 datatype of the output (of ``result`` when given)."""
        if result is not None:
            return "BYTES" if result.dtype.kind in "OUS" else datatype_of(result.dtype)
        if self.predict_proba:
            return "FP64"
        if self.signature.outputs:
            return self.signature.outputs[0].dtype
        return "FP64"

    def metadata(self) -> dict[str, Any]:
        """The V2 model metadata of this version."""
        sig = self.signature
        if sig.is_matrix:
            inputs = [
                {
                    "name": "input-0",
                    "datatype": sig.matrix_dtype,
                    "shape": [-1, sig.n_features or -1],
                }
            ]
        else:
            inputs = [{"name": c.name, "datatype": c.dtype, "shape": [-1]} for c in sig.inputs]
        if self.predict_proba:
            shape = [-1, -1]
        elif sig.outputs:
            shape = list(sig.outputs[0].shape)
        else:
            shape = [-1]
        return {
            "name": self.name,
            "versions": [str(self.version)],
            "platform": self.runtime.platform,
            "inputs": inputs,
            "outputs": [
                {"name": self.output_name, "datatype": self.output_datatype(), "shape": shape}
            ],
            "parameters": {"columns": list(sig.column_names)} if sig.inputs else {},
        }


def _check_datatype(tensor: Tensor, expected: str) -> None:
    if tensor.datatype == expected:
        return
    if _family(tensor.datatype) not in _COMPATIBLE[_family(expected)]:
        raise InvalidInputError(
            f"input {tensor.name!r}: datatype {tensor.datatype} does not fit the model's "
            f"{expected}; send {expected}"
        )
