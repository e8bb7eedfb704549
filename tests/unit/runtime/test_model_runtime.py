"""ModelRuntime: validation before the model, errors that name the version, plug-ins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from dockyard.errors import InvalidInputError, ServingError, UnknownComponentError
from dockyard.registry.signature import infer_signature
from dockyard.runtime import FrameworkAdapter, ModelRuntime, PredictAdapter, select_adapter
from dockyard.runtime.v2 import Tensor


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    data = load_iris(as_frame=True)
    x = data.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return x, data.target


class Spy:
    """Any object with predict; records whether it was called."""

    def __init__(self) -> None:
        self.called = 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.called += 1
        return np.asarray(x)[:, 0] > 0


def test_sklearn_numpy_model(iris: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = iris
    model = LogisticRegression(max_iter=500).fit(x.to_numpy(), y)
    rt = ModelRuntime(model, infer_signature(x, y), name="iris", version=3)
    assert rt.adapter.platform == "sklearn"
    assert np.array_equal(rt.predict(x.to_numpy()[:5]), model.predict(x.to_numpy()[:5]))
    assert np.array_equal(rt.predict(x.head(5)), model.predict(x.to_numpy()[:5]))
    assert rt.output_name == "predict" and rt.output_datatype() == "INT64"
    meta = rt.metadata()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert meta["versions"] == ["3"]


def test_dataframe_fitted_model_gets_a_dataframe_and_proba(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    x, y = iris
    model = LogisticRegression(max_iter=500).fit(x, y)
    rt = ModelRuntime(model, infer_signature(x, y), name="iris", version=1, predict_proba=True)
    with np.errstate(all="ignore"):
        out = rt.predict([[5.1, 3.5, 1.4, 0.2]])
    assert out.shape == (1, 3) and abs(out.sum() - 1) < 1e-9
    assert rt.output_name == "predict_proba" and rt.output_datatype() == "FP64"


def test_invalid_input_never_reaches_the_model() -> None:
    spy = Spy()
    rt = ModelRuntime(spy, infer_signature(np.zeros((2, 3))), name="m", version=1)
    with pytest.raises(
        InvalidInputError, match="input 'x2': expected FP64, got string 'a' at row 0"
    ):
        rt.predict([[1, 2, "a"]])
    with pytest.raises(InvalidInputError, match="values per row, got 2"):
        rt.predict(np.zeros((1, 2)))
    with pytest.raises(InvalidInputError, match="NaN is not allowed"):
        rt.predict(np.array([[1.0, np.nan, 1.0]]))
    assert spy.called == 0


def test_model_error_names_model_and_version() -> None:
    class Broken:
        def predict(self, x: object) -> object:
            raise ZeroDivisionError("boom")

    rt = ModelRuntime(Broken(), name="churn", version=7)
    with pytest.raises(
        ServingError, match=r"model churn version 7 failed .*ZeroDivisionError: boom"
    ) as info:
        rt.predict([[1.0]])
    assert isinstance(info.value.__cause__, ZeroDivisionError)

    class Short:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.zeros(1)

    with pytest.raises(ServingError, match="model s version 1 returned 1 predictions for 2 rows"):
        ModelRuntime(Short(), name="s", version=1).predict([[1.0], [2.0]])


def test_v2_tensors_as_matrix_or_columns() -> None:
    sig = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    rt = ModelRuntime(Spy(), sig, name="m", version=1)
    matrix = rt.tensors_to_batch([Tensor("input-0", (2, 2), "FP32", [1, 2, 3, 4])])
    assert matrix.tolist() == [[1, 2], [3, 4]]
    cols = rt.tensors_to_batch(
        [Tensor("b", (2,), "FP64", [2, 4]), Tensor("a", (2, 1), "INT64", [1, 3])]
    )
    assert cols.tolist() == [[1, 2], [3, 4]]
    with pytest.raises(InvalidInputError, match="missing input 'b'"):
        rt.tensors_to_batch([Tensor("a", (1,), "FP64", [1])])
    with pytest.raises(InvalidInputError, match="unknown input 'c'"):
        rt.tensors_to_batch([Tensor("a", (1,), "FP64", [1]), Tensor("c", (1,), "FP64", [1])])
    with pytest.raises(
        InvalidInputError, match=r"expected shape \[-1, 2\] \(rows x features\), got \[2\]"
    ):
        rt.tensors_to_batch([Tensor("input-0", (2,), "FP64", [1, 2])])
    with pytest.raises(InvalidInputError, match="datatype BYTES does not fit the model's FP64"):
        rt.tensors_to_batch([Tensor("input-0", (1, 2), "BYTES", ["1", "2"])])
    with pytest.raises(
        InvalidInputError, match="input 'b': expected FP64, got string 'x' at row 0"
    ):
        rt.tensors_to_batch([Tensor("input-0", (1, 2), "FP64", [1.0, "x"])])


def test_mixed_signature_model_gets_a_dataframe() -> None:
    seen = []

    class FrameModel:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            seen.append(frame)
            return frame["n"].to_numpy() * 2

    sig = infer_signature(pd.DataFrame({"n": [1, 2], "city": ["a", "b"]}))
    rt = ModelRuntime(FrameModel(), sig, name="m", version=1)
    assert rt.predict([{"n": 4, "city": "x"}]).tolist() == [8]
    assert list(seen[0].columns) == ["n", "city"]


def test_adapter_selection_and_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    class Onnxish:
        pass

    class OnnxishAdapter(FrameworkAdapter):
        platform = "onnxish"

        @classmethod
        def can_load(cls, model: object) -> bool:
            return isinstance(model, Onnxish)

        def predict(self, batch: np.ndarray) -> np.ndarray:
            return np.ones(len(batch))

    from dockyard import _plugins

    monkeypatch.setattr(_plugins, "available", lambda group: ["onnxish"])
    monkeypatch.setattr(_plugins, "load", lambda group, name: {"onnxish": OnnxishAdapter}[name])
    assert isinstance(select_adapter(Onnxish()), OnnxishAdapter)
    assert isinstance(select_adapter(Spy()), PredictAdapter)
    rt = ModelRuntime(Onnxish(), name="o", version=2)
    assert rt.metadata()["platform"] == "onnxish" and rt.predict([[1.0]]).tolist() == [1.0]
    with pytest.raises(
        ServingError,
        match=r"no framework adapter can run a builtins.object: it has no predict\(\).*installed: onnxish",
    ):
        select_adapter(object())


def test_unknown_adapter_name_and_bad_arguments() -> None:
    with pytest.raises(UnknownComponentError, match="Unknown framework adapter 'nope'"):
        select_adapter(Spy(), kind="nope")
    with pytest.raises(ServingError, match="has no predict_proba"):
        ModelRuntime(Spy(), name="m", version=1, predict_proba=True)
    with pytest.raises(ServingError, match="model name"):
        ModelRuntime(Spy(), name="a/b", version=1)
    with pytest.raises(ServingError, match="model version"):
        ModelRuntime(Spy(), name="m", version=-1)


def test_a_model_fitted_on_a_dataframe_gets_arrays_when_that_is_the_same(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    """Building a DataFrame per call costs 4-5x a small model's predict: a model whose
    own feature names are the signature's columns gets the validated array, with the
    same answers and no warning about missing names (warnings are errors in tests)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris
    for model in (
        LogisticRegression(max_iter=500).fit(x, y),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y),
    ):
        rt = ModelRuntime(model, infer_signature(x, y), name="iris", version=1)
        assert not rt.adapter.wants_frame
        assert rt.adapter.model is not model and hasattr(model, "feature_names_in_")
        assert (rt.predict(x.to_numpy()) == model.predict(x)).all()


def test_a_model_that_selects_columns_by_name_keeps_dataframes(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    """A ColumnTransformer picks columns by name: arrays would fail, so the probe keeps
    the DataFrame path (and its answers)."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris
    model = make_pipeline(
        make_column_transformer((StandardScaler(), ["petal_length", "petal_width"])),
        LogisticRegression(max_iter=500),
    ).fit(x, y)
    rt = ModelRuntime(model, infer_signature(x, y), name="iris", version=1)
    assert rt.adapter.wants_frame
    assert (rt.predict(x.to_numpy()) == model.predict(x)).all()


def test_a_value_that_overflows_preprocessing_is_the_clients_error(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    # Why: 1.79e308 is finite, passes a "no infinity" check, and a StandardScaler turns it
    # into infinity; the model's ValueError was a 500 that a client could repeat to push a
    # version's error rate up and trigger a rollback.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    rt = ModelRuntime(model, infer_signature(x, y), name="iris", version=4)
    with pytest.raises(
        InvalidInputError,
        match=r"input 'petal_length': number 1\.79e\+308 at row 0 is out of range: values "
        r"beyond ±1e\+150 overflow the model's arithmetic to infinity",
    ):
        rt.predict([[5.1, 3.5, 1.79e308, 0.2]])
    # Registered without a sample: the signature comes from the fitted model, same rule.
    bare = ModelRuntime(model, None, name="iris", version=5)
    with pytest.raises(InvalidInputError, match="out of range"):
        bare.tensors_to_batch([Tensor("input-0", (1, 4), "FP64", [5.1, 3.5, -1.79e308, 0.2])])
    # Values the signature accepts and the model fails on remain the version's fault.
    with pytest.raises(ServingError, match="model iris version 4 failed"):
        ModelRuntime(model, infer_signature(x, y), name="iris", version=4).predict_batch(
            np.array([[np.inf, 1.0, 1.0, 1.0]])
        )
