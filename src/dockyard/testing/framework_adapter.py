"""The FrameworkAdapter contract, for every framework adapter.

Every delivery mode (HTTP serving, batch scoring, stream scoring) calls a model through
its adapter, after the runtime has validated the batch against the model's signature:
each test says which of those uses a rule protects.

A subclass sets ``adapter_class`` and provides two fixtures:

- ``model``: a fitted model of the framework, as loaded from its artifact.
- ``rows``: a 2-D numpy array of at least two input rows the model accepts.

The batch handed to ``predict`` is ``rows`` itself, or a pandas DataFrame of them with
the model's ``feature_names_in_`` as columns when the adapter ``wants_frame``, as the
runtime does; override :meth:`FrameworkAdapterContract.make_batch` for other forms.
Example::

    class TestOnnxAdapter(FrameworkAdapterContract):
        adapter_class = OnnxAdapter
        has_predict_proba = False

        @pytest.fixture
        def model(self):
            return onnxruntime.InferenceSession(MODEL_BYTES)

        @pytest.fixture
        def rows(self):
            return numpy.random.default_rng(0).random((8, 4), dtype="float32")
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from dockyard.errors import ServingError
from dockyard.runtime.adapters import FrameworkAdapter

__all__ = ["FrameworkAdapterContract"]


class FrameworkAdapterContract:
    """The rules every framework adapter keeps. Subclass it in a ``Test*`` class.

    Fixtures to provide: ``model`` and ``rows`` (see the module docstring).

    Attributes:
        adapter_class: the :class:`~dockyard.runtime.adapters.FrameworkAdapter` under
            test (required).
        has_predict_proba: the sample model gives class probabilities; when False the
            adapter must refuse ``predict_proba=True`` when it is built.
    """

    adapter_class: ClassVar[type[FrameworkAdapter]]
    has_predict_proba: ClassVar[bool] = True

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def model(self) -> Any:
        """A fitted model the adapter runs."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'model' fixture (see "
            "dockyard.testing.FrameworkAdapterContract)"
        )

    @pytest.fixture
    def rows(self) -> np.ndarray:
        """At least two input rows, as a 2-D numpy array."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'rows' fixture (see "
            "dockyard.testing.FrameworkAdapterContract)"
        )

    # helpers a subclass may override ---------------------------------------------------
    def make_adapter(self, model: Any, *, predict_proba: bool = False) -> FrameworkAdapter:
        """The adapter under test for ``model``, built as ``select_adapter`` builds it."""
        cls: type[FrameworkAdapter] | None = getattr(self, "adapter_class", None)
        if cls is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set adapter_class (see "
                "dockyard.testing.FrameworkAdapterContract)"
            )
        return cls(model, predict_proba=predict_proba)

    def make_batch(self, adapter: FrameworkAdapter, rows: np.ndarray) -> Any:
        """What the runtime hands ``predict`` for ``rows``: the array, or a DataFrame."""
        if not adapter.wants_frame:
            return rows
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]  # no stubs here

        names = getattr(adapter.model, "feature_names_in_", None)
        return pd.DataFrame(rows, columns=list(names) if names is not None else None)

    # the rules -------------------------------------------------------------------------
    def test_can_load_its_model_and_not_any_object(self, model: Any) -> None:
        """``select_adapter`` asks every installed adapter whether it can run a model: an
        adapter must claim its framework's models, and claiming any object would take
        every other framework's models from their own adapter."""
        adapter = self.make_adapter(model)
        cls = type(adapter)
        assert cls.can_load(model) is True
        assert cls.can_load(object()) is False

    def test_one_row_in_one_row_out(self, model: Any, rows: np.ndarray) -> None:
        """A request of one row is the most common call; its answer must still be one
        row, not a scalar squeezed out of a batch of one."""
        adapter = self.make_adapter(model)
        out = np.asarray(adapter.predict(self.make_batch(adapter, rows[:1])))
        assert out.ndim >= 1
        assert out.shape[0] == 1

    def test_n_rows_in_n_rows_out(self, model: Any, rows: np.ndarray) -> None:
        """The micro-batcher merges requests into one call and splits the answer by row,
        and batch scoring writes one prediction per input row: output row i must answer
        input row i, so there must be exactly as many."""
        assert len(rows) >= 2, "give at least two rows"
        adapter = self.make_adapter(model)
        out = np.asarray(adapter.predict(self.make_batch(adapter, rows)))
        assert out.shape[0] == len(rows)
        one_by_one = [
            np.asarray(adapter.predict(self.make_batch(adapter, rows[i : i + 1])))[0]
            for i in range(len(rows))
        ]
        if out.dtype.kind in "fc":
            np.testing.assert_allclose(np.asarray(one_by_one), out, rtol=1e-6)
        else:
            np.testing.assert_array_equal(np.asarray(one_by_one), out)

    def test_platform_is_named(self, model: Any) -> None:
        """The V2 model metadata shows ``platform``, so an operator can tell which
        framework serves a model; ``wants_frame`` decides what the runtime hands it."""
        adapter = self.make_adapter(model)
        assert isinstance(adapter.platform, str)
        assert adapter.platform.strip()
        assert isinstance(adapter.wants_frame, bool)

    def test_predict_proba_gives_probabilities_or_is_refused_when_built(
        self, model: Any, rows: np.ndarray
    ) -> None:
        """``--predict-proba`` serves class probabilities: each row must be a distribution
        (non-negative, summing to 1). A model without probabilities must be refused
        when the adapter is built, with a ServingError, not on the first request."""
        if not self.has_predict_proba:
            with pytest.raises(ServingError):
                self.make_adapter(model, predict_proba=True)
            return
        adapter = self.make_adapter(model, predict_proba=True)
        out = np.asarray(adapter.predict(self.make_batch(adapter, rows)), dtype=float)
        assert out.ndim == 2
        assert out.shape[0] == len(rows)
        assert (out >= 0).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
