"""Materializers round-trip values exactly, and the registry picks the right one."""

from __future__ import annotations

import collections
import math
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from dockyard.artifacts import Materializer, MaterializerRegistry
from dockyard.artifacts.materializers.base import qualified_name
from dockyard.errors import NoMaterializerError, UnsafeArtifactError


@pytest.fixture(scope="module")
def registry() -> MaterializerRegistry:
    return MaterializerRegistry()


def round_trip(registry: MaterializerRegistry, value: Any) -> tuple[Materializer, Any]:
    """Save and load ``value`` as the pipelines layer does: pick, save, look up by name."""
    m = registry.for_object(value)
    data = m.save(value)
    assert isinstance(data, bytes)
    return m, registry.get(m.name).load(data, qualified_name(type(value)))


class Point:
    """A user class no built-in materializer knows."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class Settings(dict):
    """A dict subclass with a method later steps call."""

    def get_int(self, key: str) -> int:
        return int(self[key])


class Frame(pd.DataFrame):
    """A DataFrame subclass, as libraries like geopandas define."""

    @property
    def _constructor(self) -> type:
        return Frame


# -- the JSON materializer ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**30),
        1.5,
        -0.0,
        "héllo ✓",
        [],
        {},
        {"a": 1, "b": [1, 2.5, None, "x"], "c": {"d": {"e": []}}},
        (1, "two", 3.0),
        [1, [2, [3, [4, (5, 6)]]]],
        {1: "int key", (2, 3): "tuple key", None: "none key", "s": (7,)},
        {"__dockyard__": "a key that looks like the tag"},
        ((),),
    ],
    ids=repr,
)
def test_builtins_round_trip_exactly(registry: MaterializerRegistry, value: Any) -> None:
    m, back = round_trip(registry, value)
    assert m.name == "builtins"
    assert not m.unsafe
    assert back == value
    assert type(back) is type(value)
    assert repr(back) == repr(value)  # tuples stay tuples, int keys stay ints, at any depth


def test_nan_and_infinity_round_trip(registry: MaterializerRegistry) -> None:
    m, back = round_trip(registry, {"loss": math.nan, "hi": math.inf, "lo": [-math.inf]})
    assert m.name == "builtins"
    assert math.isnan(back["loss"])
    assert back["hi"] == math.inf
    assert back["lo"] == [-math.inf]


def test_json_is_readable(registry: MaterializerRegistry) -> None:
    """Metrics and params are plain JSON people can read in the store."""
    assert registry.for_object({"acc": 0.9}).save({"acc": 0.9}) == b'{"acc": 0.9}'


# -- numpy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.linspace(0, 1, 7, dtype=np.float32),
        np.array([True, False]),
        np.array([1 + 2j, np.nan]),
        np.array(["a", "bcd"]),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3)),
        np.zeros((0, 3)),
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    ],
    ids=lambda a: str(a.dtype),
)
def test_numpy_arrays_round_trip(registry: MaterializerRegistry, array: np.ndarray) -> None:
    m, back = round_trip(registry, array)
    assert m.name == "numpy"
    assert not m.unsafe
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("scalar", [np.float64(0.25), np.int8(-3), np.bool_(True)], ids=repr)
def test_numpy_scalars_keep_their_type(registry: MaterializerRegistry, scalar: Any) -> None:
    """np.float64 subclasses float, but the numpy materializer is nearer in its MRO."""
    m, back = round_trip(registry, scalar)
    assert m.name == "numpy"
    assert type(back) is type(scalar)
    assert back == scalar


def test_object_arrays_are_not_written_as_npy(registry: MaterializerRegistry) -> None:
    """.npy with allow_pickle=False cannot hold Python objects: they go to the fallback."""
    value = np.array([{"a": 1}, None], dtype=object)
    m, back = round_trip(registry, value)
    assert m.name == "cloudpickle"
    assert back[0] == {"a": 1}


def test_masked_arrays_keep_their_mask(registry: MaterializerRegistry) -> None:
    value = np.ma.masked_array([1, 2, 3], mask=[False, True, False])
    m, back = round_trip(registry, value)
    assert m.name != "numpy"
    assert back.mask.tolist() == [False, True, False]


# -- pandas ------------------------------------------------------------------------------


def test_dataframe_with_mixed_dtypes_round_trips(registry: MaterializerRegistry) -> None:
    frame = pd.DataFrame(
        {
            "int": [1, 2, 3],
            "float": [0.5, np.nan, 2.0],
            "text": ["a", "b", None],
            "category": pd.Categorical(["x", "y", "x"], categories=["y", "x"], ordered=True),
            "when": pd.date_range("2024-01-01", periods=3, tz="Europe/Madrid"),
            "naive": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "span": pd.to_timedelta([1, 2, 3], unit="s"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    m, back = round_trip(registry, frame)
    assert m.name == "pandas"
    assert not m.unsafe
    pd.testing.assert_frame_equal(back, frame)


def test_dataframe_with_integer_column_labels(registry: MaterializerRegistry) -> None:
    frame = pd.DataFrame(np.eye(3))
    _, back = round_trip(registry, frame)
    pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize("name", [None, "price", 3, ("a", 1)], ids=repr)
def test_series_round_trips_as_series_with_its_name(
    registry: MaterializerRegistry, name: Any
) -> None:
    series = pd.Series([1.5, 2.5, None], index=[10, 20, 30], name=name)
    m, back = round_trip(registry, series)
    assert m.name == "pandas"
    assert type(back) is pd.Series
    assert back.name == name
    assert type(back.name) is type(name)
    pd.testing.assert_series_equal(back, series)


def test_frame_parquet_cannot_hold_falls_back(registry: MaterializerRegistry) -> None:
    """A column of mixed Python objects would fail the step if parquet were forced."""
    frame = pd.DataFrame({"mixed": [1, "two", 3.0]})
    m, back = round_trip(registry, frame)
    assert m.name == "cloudpickle"
    pd.testing.assert_frame_equal(back, frame)


# -- scikit-learn ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LogisticRegression(),
        lambda: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]),
    ],
    ids=["LogisticRegression", "Pipeline"],
)
def test_sklearn_estimators_round_trip_with_skops(
    registry: MaterializerRegistry, xy: tuple[np.ndarray, np.ndarray], make: Any
) -> None:
    x, y = xy
    model = make().fit(x, y)
    m, back = round_trip(registry, model)
    assert m.name == "sklearn"
    assert not m.unsafe
    assert type(back) is type(model)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def test_estimator_with_user_code_falls_back_to_pickle(
    registry: MaterializerRegistry, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    """skops would need to trust this test module's function; such a model is pickled
    (and so marked unsafe) rather than written as a skops file nobody may load."""
    x, y = xy
    model = Pipeline([("f", FunctionTransformer(_double)), ("m", LogisticRegression())])
    model.fit(x, y)
    m, back = round_trip(registry, model)
    assert m.name == "cloudpickle"
    assert m.unsafe
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_skops_file_with_foreign_types_is_refused(
    registry: MaterializerRegistry, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    """A tampered or foreign skops file must not be able to load a type of its choosing."""
    import skops.io

    x, y = xy
    model = Pipeline([("f", FunctionTransformer(_double)), ("m", LogisticRegression())])
    data = skops.io.dumps(model.fit(x, y))
    with pytest.raises(UnsafeArtifactError, match=r"_double"):
        registry.get("sklearn").load(data, "sklearn.pipeline.Pipeline")


# -- the fallback and the registry -------------------------------------------------------


def test_custom_class_falls_back_to_cloudpickle_marked_unsafe(
    registry: MaterializerRegistry,
) -> None:
    m, back = round_trip(registry, Point(1, 2))
    assert m.name == "cloudpickle"
    assert m.unsafe
    assert back == Point(1, 2)


def test_dict_subclass_keeps_its_type(registry: MaterializerRegistry) -> None:
    """The MRO reaches builtins.dict, but JSON would hand back a plain dict and the next
    step's ``settings.get_int`` would fail: the fallback keeps the class."""
    m, back = round_trip(registry, Settings(n="3"))
    assert m.name == "cloudpickle"
    assert type(back) is Settings
    assert back.get_int("n") == 3
    m, back = round_trip(registry, collections.Counter("aab"))
    assert type(back) is collections.Counter


def test_dataframe_subclass_keeps_its_type(registry: MaterializerRegistry) -> None:
    m, back = round_trip(registry, Frame({"a": [1, 2]}))
    assert m.name == "cloudpickle"
    assert type(back) is Frame


def test_registered_materializer_wins_for_its_type() -> None:
    """A plug-in for a type (here a dict subclass) beats the built-ins further up the MRO;
    one for builtins.dict with a higher priority beats the JSON materializer."""

    class SettingsMaterializer(Materializer):
        name = "settings"
        type_names = (qualified_name(Settings),)

        def save(self, obj: Any) -> bytes:
            return repr(sorted(obj.items())).encode()

        def load(self, data: bytes, data_type: str) -> Any:
            import ast

            return Settings(ast.literal_eval(data.decode()))

    class LoudDict(Materializer):
        name = "loud-dict"
        type_names = ("builtins.dict",)
        priority = 10

        def save(self, obj: Any) -> bytes:
            return b"LOUD"

        def load(self, data: bytes, data_type: str) -> Any:
            return {}

    registry = MaterializerRegistry()
    before = registry.fingerprint()
    registry.register(SettingsMaterializer)
    m, back = round_trip(registry, Settings(n="4"))
    assert m.name == "settings"
    assert back.get_int("n") == 4
    assert registry.for_object({"a": 1}).name == "builtins"
    registry.register(LoudDict())
    assert registry.for_object({"a": 1}).name == "loud-dict"
    assert registry.for_object(Settings()).name == "settings"  # nearer in the MRO
    assert registry.fingerprint() != before
    assert "settings:1" in registry.fingerprint()


def test_register_rejects_what_is_not_a_materializer() -> None:
    with pytest.raises(TypeError, match=r"not a dockyard\.artifacts\.Materializer"):
        MaterializerRegistry(load_entry_points=False).register(dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), (i for i in range(3))],
    ids=["lock", "generator"],
)
def test_unserialisable_value_names_type_and_fix(
    registry: MaterializerRegistry, value: Any
) -> None:
    with pytest.raises(NoMaterializerError) as info:
        registry.for_object(value)
    message = str(info.value)
    assert qualified_name(type(value)) in message
    assert "dockyard.materializers" in message
    assert "cannot pickle" in message  # why the fallback refused
    assert isinstance(info.value, TypeError)


def test_unserialisable_content_inside_a_list(registry: MaterializerRegistry) -> None:
    with pytest.raises(NoMaterializerError, match=r"builtins\.list"):
        registry.for_object([1, threading.Lock()])


def test_get_unknown_name(registry: MaterializerRegistry) -> None:
    with pytest.raises(NoMaterializerError, match=r"'nope'.*installed: builtins"):
        registry.get("nope")


def test_fingerprint_is_stable_and_lists_versions() -> None:
    one, two = MaterializerRegistry(), MaterializerRegistry()
    assert one.fingerprint() == two.fingerprint() == one.fingerprint()
    assert one.fingerprint() == ("builtins:1,cloudpickle:1,numpy:1,pandas:1,sklearn:1")


def test_registry_is_safe_across_threads(registry: MaterializerRegistry) -> None:
    """The parallel orchestrator saves outputs from several threads at once; the trial
    bytes kept between can_save and save must never cross threads."""
    values = [Point(i, i) for i in range(200)]
    out: list[Any] = [None] * len(values)

    def work(offset: int) -> None:
        for i in range(offset, len(values), 4):
            m = registry.for_object(values[i])
            out[i] = m.load(m.save(values[i]), "")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == values


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dockyard.artifacts;"
        "from dockyard.artifacts import MaterializerRegistry as R; R().fingerprint();"
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn', 'skops', 'fsspec',"
        " 'pyarrow', 'cloudpickle') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_loading_a_skops_model_does_not_import_pytest() -> None:
    """skops lists scikit-learn's estimators on import, which imports pytest where it is
    installed (~6 MB per serving process, counted against us in benchmarks/README)."""
    code = (
        "import sys\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from dockyard.artifacts.materializers.sklearn import SkopsMaterializer\n"
        "m = SkopsMaterializer()\n"
        "data = m._serialise(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))\n"
        "model = m.load(data, 'sklearn.linear_model.LogisticRegression')\n"
        "assert model.predict([[1.0]]).tolist() == [1]\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('pytest', '_pytest')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
