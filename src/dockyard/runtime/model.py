"""One model version, ready to predict: the runtime every delivery mode shares.

:class:`ModelRuntime` is a model version (name, version, signature) around a
:class:`~dockyard.runtime.adapters.FrameworkAdapter`. It validates inputs against the
signature *before* the model sees them (:class:`~dockyard.errors.InvalidInputError`,
through :class:`~dockyard.runtime.validation.Validator`) and turns a model's own exception
into a :class:`~dockyard.errors.ServingError` naming the model version. HTTP serving,
batch scoring and stream consumers all get one from
:func:`~dockyard.runtime.spec.load_runtime`::

    >>> rt = load_runtime("iris@production")
    >>> rt.predict([[5.1, 3.5, 1.4, 0.2]])
    array([0])

**Whose fault a failure is.** Delivery modes answer, count and roll back on the two
kinds differently (HTTP: 400 against 500; rollout analysis counts only the second):

* :class:`~dockyard.errors.InvalidInputError`, *the client's*: input the signature does
  not accept, found before the model runs. That includes finite values too large for the
  model's arithmetic: a value beyond ±1e150 (FP64) in a column that forbids infinity is
  refused (:mod:`dockyard.runtime.validation` says why that bound), so ``1.79e308``
  through a ``StandardScaler`` is a 400 naming the input, never a model error.
* :class:`~dockyard.errors.ServingError`, *the version's*: the model raised on input the
  signature accepts, or gave the wrong number of predictions.

The line is drawn before the model runs, from the signature alone, on purpose: the
alternatives read the model's failure after the fact, by its message ("infinity",
"NaN", "too large") or by how large the inputs were, and both can hide a broken version
from rollback (a model that produces NaN on ordinary input says "NaN" too) or change
with a library's wording. A version that cannot compute with values inside the accepted
range fails by itself: a 500, counted against it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dockyard.errors import ServingError
from dockyard.registry.signature import (
    DATATYPES,
    INT_TYPES,
    Signature,
    datatype_of,
    signature_from_model,
)
from dockyard.runtime.adapters import FrameworkAdapter, select_adapter
from dockyard.runtime.validation import Validator, batch_rows

if TYPE_CHECKING:
    from dockyard.runtime.v2 import Tensor
    from dockyard.runtime.validation import Batch

__all__ = ["ModelRuntime"]


class ModelRuntime:
    """A model version that validates its inputs and predicts.

    Args:
        model: the loaded model object.
        signature: its input/output signature; None asks the fitted model
            (``feature_names_in_``, ``n_features_in_``), else accepts any numeric matrix.
        name: the model's registered name.
        version: its version number.
        predict_proba: answer class probabilities (``predict_proba``) instead of labels.
        adapter: force a framework adapter (see
            :func:`~dockyard.runtime.adapters.select_adapter`'s ``kind``).

    Raises:
        ServingError: no adapter can run ``model`` or it lacks ``predict_proba``.
    """

    def __init__(
        self,
        model: Any,
        signature: Signature | None = None,
        *,
        name: str,
        version: int,
        predict_proba: bool = False,
        adapter: str | type[FrameworkAdapter] | FrameworkAdapter | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ServingError(f"a model name must be a non-empty string without '/', got {name!r}")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ServingError(f"a model version must be a non-negative integer, got {version!r}")
        self.model = model
        if signature is None:  # e.g. registered before signatures came from the model
            signature = signature_from_model(model) or Signature()
        self.signature = signature
        self.name = name
        self.version = version
        self.predict_proba = predict_proba
        self.adapter = select_adapter(model, predict_proba=predict_proba, kind=adapter)
        self.validator = Validator(self.signature)
        self.label = f"{name}:{version}"
        if predict_proba:
            self.output_name = "predict_proba"
        elif self.signature.outputs:
            self.output_name = self.signature.outputs[0].name
        else:
            self.output_name = "predict"
        self._frame_columns: Any = None  # a pandas Index, built once (not per call)
        self._frame_names: list[str] | None = None
        if self.adapter.wants_frame:
            self.adapter = self._array_variant(model) or self.adapter
        if self.adapter.wants_frame or not self.signature.is_matrix:
            names = getattr(model, "feature_names_in_", None)
            self._frame_names = (
                list(self.signature.column_names)
                if self.signature.inputs
                else (list(names) if names is not None else None)
            )

    def __repr__(self) -> str:
        return f"ModelRuntime({self.label}, {type(self.adapter).__name__})"

    def _array_variant(self, model: Any) -> FrameworkAdapter | None:
        """An adapter giving the model the validated array instead of a DataFrame.

        Only for one numeric matrix whose columns are the model's own feature names in
        its order, when the adapter offers an array variant that answers probe rows
        exactly as the DataFrame path does; None otherwise.
        """
        sig = self.signature
        names = getattr(model, "feature_names_in_", None)
        if not sig.is_matrix or not sig.inputs or names is None:
            return None
        if [str(n) for n in names] != list(sig.column_names):
            return None
        candidate = self.adapter.for_arrays()
        if candidate is None:
            return None
        import pandas as pd

        rng = np.random.default_rng(0)
        probe = rng.normal(size=(8, len(sig.inputs))) * 3
        probe = probe.round() if sig.matrix_dtype in INT_TYPES else probe
        probe = probe.astype(DATATYPES[sig.matrix_dtype or "FP64"])
        try:
            expected = np.asarray(self.adapter.predict(pd.DataFrame(probe, columns=list(names))))
            got = np.asarray(candidate.predict(probe))
        except Exception:  # e.g. columns selected by name: the DataFrame path it is
            return None
        same = expected.shape == got.shape and (
            np.allclose(expected, got, equal_nan=True)
            if expected.dtype.kind in "fc" and got.dtype.kind in "fc"
            else bool((expected == got).all())
        )
        return candidate if same else None

    # --- validation --------------------------------------------------------------------

    def validate(self, data: Any) -> Batch:
        """Check any supported input (DataFrame, 2-D array, rows, records) and return a batch.

        Raises:
            InvalidInputError: the data does not fit the signature.
        """
        return self.validator.to_batch(data)

    def rows_to_batch(self, rows: Any) -> Batch:
        return self.validator.rows_to_batch(rows)

    def records_to_batch(self, records: Any) -> Batch:
        return self.validator.records_to_batch(records)

    def tensors_to_batch(self, tensors: Sequence[Tensor]) -> Batch:
        """Check V2 input tensors: one 2-D tensor ``[N, features]``, or one per column.

        Raises:
            InvalidInputError: missing or unknown input, wrong shape or datatype, bad values.
        """
        return self.validator.tensors_to_batch(tensors)

    # --- prediction --------------------------------------------------------------------

    def model_input(self, batch: Batch) -> Any:
        """What the framework adapter gets: the array, or a DataFrame when it wants one."""
        if self._frame_names is None and not isinstance(batch, dict):
            return batch
        import pandas as pd

        if self._frame_columns is None and self._frame_names is not None:
            # One Index for every call: building it from a list each time costs pandas
            # ~100 us (it converts the names to Arrow strings).
            self._frame_columns = pd.Index(self._frame_names)
        return pd.DataFrame(batch, columns=self._frame_columns)

    def predict_batch(self, batch: Batch) -> np.ndarray:
        """Predict a validated batch (blocking; the HTTP app calls it in a thread).

        Raises:
            ServingError: the model raised (the original is the ``__cause__``) or gave a
                different number of predictions than rows.
        """
        n = batch_rows(batch)
        try:
            out = self.adapter.predict(self.model_input(batch))
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

    def time_call(self, rows: int, repeat: int = 5) -> float | None:
        """Seconds one model call on ``rows`` probe rows takes (the fastest of
        ``repeat``), or None when no probe can be made (inputs that are not one numeric
        matrix) or the model refuses it. Delivery modes use it to decide where calls run.
        """
        sig = self.signature
        width = sig.n_features
        if not sig.is_matrix or not width or rows < 1:
            return None
        probe = np.random.default_rng(0).normal(size=(rows, width))
        if sig.matrix_dtype in INT_TYPES:
            probe = probe.round()
        batch = probe.astype(DATATYPES[sig.matrix_dtype or "FP64"])
        best = float("inf")
        try:
            for _ in range(repeat):
                started = time.perf_counter()
                self.adapter.predict(self.model_input(batch))
                best = min(best, time.perf_counter() - started)
        except Exception:
            return None
        return best

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
            "platform": self.adapter.platform,
            "inputs": inputs,
            "outputs": [
                {"name": self.output_name, "datatype": self.output_datatype(), "shape": shape}
            ],
            "parameters": {"columns": list(sig.column_names)} if sig.inputs else {},
        }
