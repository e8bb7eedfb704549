"""The Materializer contract, for every materializer.

A step's outputs are saved by a materializer and loaded by the next step, often in
another process or on another machine, and the bytes' hash is part of every cache key:
each test says which of those uses a rule protects.

A subclass provides three fixtures and, where the value has no useful ``==``, overrides
:meth:`MaterializerContract.assert_same`:

- ``materializer``: the instance under test (as the registry builds it: no arguments).
- ``samples``: values it saves, as varied as its type family allows.
- ``unsupported_values``: values it must refuse (of a type it does not name, or of a
  type it names that it cannot save faithfully).

Example::

    class TestTableMaterializer(MaterializerContract):
        @pytest.fixture
        def materializer(self):
            return CsvTextMaterializer()

        @pytest.fixture
        def samples(self):
            return [Table({"a": [1, 2]}), Table({})]

        @pytest.fixture
        def unsupported_values(self):
            return [Table({"a": [object()]})]
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from dockyard.artifacts.materializers.base import Materializer, qualified_name
from dockyard.artifacts.materializers.registry import MaterializerRegistry
from dockyard.errors import NoMaterializerError

__all__ = ["MaterializerContract"]


class MaterializerContract:
    """The rules every materializer keeps. Subclass it in a ``Test*`` class.

    Fixtures to provide: ``materializer``, ``samples`` and ``unsupported_values`` (see
    the module docstring).

    Attributes:
        loading_runs_code: whether loading its bytes can run arbitrary code (pickle
            can). The materializer's ``unsafe`` flag must say the same.
        deterministic: equal values give identical bytes. Set to False, saying why,
            for a format that embeds per-save details (skops archives embed object
            ids and timestamps): the rule is then skipped.
    """

    loading_runs_code: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def materializer(self) -> Materializer:
        """The materializer under test."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'materializer' fixture (see "
            "dockyard.testing.MaterializerContract)"
        )

    @pytest.fixture
    def samples(self) -> Sequence[Any]:
        """Values the materializer saves."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'samples' fixture (see "
            "dockyard.testing.MaterializerContract)"
        )

    @pytest.fixture
    def unsupported_values(self) -> Sequence[Any]:
        """Values the materializer must refuse."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'unsupported_values' fixture (see "
            "dockyard.testing.MaterializerContract)"
        )

    # helpers a subclass may override ---------------------------------------------------
    def assert_same(self, loaded: Any, original: Any) -> None:
        """Fail unless ``loaded`` is the value ``original`` was (type checked apart)."""
        assert loaded == original

    @staticmethod
    def data_type(value: Any) -> str:
        """The class name recorded with an artifact of ``value`` (and given to load)."""
        return qualified_name(type(value))

    @staticmethod
    def save(materializer: Materializer, value: Any) -> bytes:
        """Save ``value`` as the registry does: ``can_save`` first, then ``save``.

        ``save`` without a ``can_save`` in the same thread is not a rule here: the built-in
        trial materializers (JSON, pandas, skops, cloudpickle) fail on ``save(None)`` then.
        """
        assert materializer.can_save(value), f"can_save refused its sample {value!r}"
        data = materializer.save(value)
        assert isinstance(data, bytes)
        return data

    @staticmethod
    def registry_of(materializer: Materializer) -> MaterializerRegistry:
        """A registry holding only ``materializer``, chosen as the pipelines choose."""
        registry = MaterializerRegistry(load_entry_points=False)
        registry.register(materializer)
        return registry

    # the rules -------------------------------------------------------------------------
    def test_declares_name_version_and_types(self, materializer: Materializer) -> None:
        """An artifact records the materializer's name (to find it again when loading) and
        its version (part of every cache key, so a new byte format is never mistaken for
        the old one); the registry matches values by the qualified class names it lists."""
        assert isinstance(materializer.name, str)
        assert materializer.name
        assert isinstance(materializer.version, str)
        assert materializer.version
        assert isinstance(materializer.type_names, tuple)
        assert materializer.type_names
        for type_name in materializer.type_names:
            module, _, name = type_name.rpartition(".")
            assert module, f"{type_name!r} is not a qualified class name (module.Class)"
            assert name

    def test_round_trip_keeps_value_and_type(
        self, materializer: Materializer, samples: Sequence[Any]
    ) -> None:
        """The next step gets the value the previous one returned, of the same type: a
        DataFrame coming back as a dict, or a tuple as a list, breaks the user's code."""
        assert samples, "give at least one sample value"
        for value in samples:
            data = self.save(materializer, value)
            loaded = materializer.load(data, self.data_type(value))
            assert type(loaded) is type(value)
            self.assert_same(loaded, value)

    def test_a_fresh_instance_loads_what_another_saved(
        self, materializer: Materializer, samples: Sequence[Any]
    ) -> None:
        """Outputs are loaded by another process (a parallel worker, a later run, the
        model server), with a materializer built anew from its entry point: nothing may
        depend on state kept in the instance that saved."""
        for value in samples:
            data = self.save(materializer, value)
            loaded = type(materializer)().load(data, self.data_type(value))
            assert type(loaded) is type(value)
            self.assert_same(loaded, value)

    def test_the_registry_chooses_it_for_its_samples(
        self, materializer: Materializer, samples: Sequence[Any]
    ) -> None:
        """A step's return value reaches a materializer only through the registry's choice
        by class name along the MRO: the names listed must match the values it saves."""
        registry = self.registry_of(materializer)
        for value in samples:
            assert registry.for_object(value) is materializer, value

    def test_equal_values_give_identical_bytes(
        self, materializer: Materializer, samples: Sequence[Any]
    ) -> None:
        """Artifacts are addressed by the hash of their bytes: a rerun that produces an
        equal value must land on the same artifact, or every downstream cache key
        changes and nothing is ever reused."""
        if not self.deterministic:
            pytest.skip(f"{type(self).__name__}: the format embeds per-save details")
        for value in samples:
            data = self.save(materializer, value)
            assert self.save(materializer, value) == data, value
            assert self.save(materializer, copy.deepcopy(value)) == data, value

    def test_unsafe_flag_says_whether_loading_runs_code(self, materializer: Materializer) -> None:
        """Loading a pickle can run arbitrary code: such artifacts are marked unsafe and
        loaded elsewhere only with an explicit trust_pickle. A format that cannot run
        code must not be marked unsafe either, or users learn to click through the
        warning."""
        assert type(materializer).unsafe is self.loading_runs_code

    def test_unsupported_values_are_refused_clearly(
        self, materializer: Materializer, unsupported_values: Sequence[Any]
    ) -> None:
        """A value it cannot save faithfully must be refused up front (``can_save`` says
        no, it does not raise), so the registry tries the next materializer or tells the
        user which type needs one, instead of writing bytes that load back wrong."""
        assert unsupported_values, "give at least one value the materializer refuses"
        registry = self.registry_of(materializer)
        for value in unsupported_values:
            type_name = self.data_type(value)
            with pytest.raises(NoMaterializerError) as info:
                registry.for_object(value)
            message = str(info.value)
            assert type_name in message
            matched = any(qualified_name(k) in materializer.type_names for k in type(value).__mro__)
            if matched:
                assert materializer.can_save(value) is False
                assert f"tried: {materializer.name}" in message
