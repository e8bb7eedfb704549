"""The ModelRegistryStore contract, for every adapter.

A model version points at an artifact recorded by the metadata context, so the suite
needs both stores over the same data. A subclass provides the ``stores`` fixture: a
fresh, empty ``(metadata_store, registry_store)`` pair sharing one database (or
whatever the two adapters share). Example::

    class TestMyRegistry(RegistryStoreContract):
        @pytest.fixture
        def stores(self, tmp_path):
            db = Database(f"sqlite:///{tmp_path}/metadata.db")
            yield SqlMetadataStore(db), MyRegistryStore(db)
            db.close()
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from functools import partial

import pytest

from dockyard.errors import ModelNotFoundError, RecordNotFoundError, RegistryError
from dockyard.metadata.base import ArtifactDraft, MetadataStore
from dockyard.registry.signature import ColumnSpec, Signature
from dockyard.registry.store import ModelRegistryStore

__all__ = ["RegistryStoreContract", "model_draft"]


def model_draft(tag: str) -> ArtifactDraft:
    """An artifact draft of a (pretend) scikit-learn model, distinct per ``tag``."""
    digest = hashlib.sha256(tag.encode()).hexdigest()
    return ArtifactDraft(
        uri=f"memory://{digest}",
        content_hash=digest,
        size=len(tag),
        data_type="sklearn.linear_model._logistic.LogisticRegression",
        materializer="sklearn",
        materializer_version="1",
    )


class RegistryStoreContract:
    """The rules every model registry store keeps. Subclass it in a ``Test*`` class.

    Fixture to provide: ``stores``, a fresh ``(MetadataStore, ModelRegistryStore)`` pair
    over the same data (see the module docstring).
    """

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def stores(self) -> tuple[MetadataStore, ModelRegistryStore]:
        """A fresh metadata store and registry store over the same data."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'stores' fixture (see "
            "dockyard.testing.RegistryStoreContract)"
        )

    @pytest.fixture
    def metadata_store(self, stores: tuple[MetadataStore, ModelRegistryStore]) -> MetadataStore:
        return stores[0]

    @pytest.fixture
    def store(self, stores: tuple[MetadataStore, ModelRegistryStore]) -> ModelRegistryStore:
        return stores[1]

    # helpers ---------------------------------------------------------------------------
    @staticmethod
    def artifact(metadata_store: MetadataStore, tag: str) -> str:
        """The id of a recorded model artifact, distinct per ``tag``."""
        return metadata_store.record_artifact(model_draft(tag)).id

    # the rules -------------------------------------------------------------------------
    def test_versions_are_numbered_per_model(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Users talk about `churn:3`; numbers must be dense and per model."""
        a1 = store.create_model_version(
            "churn", artifact_id=self.artifact(metadata_store, "a"), metrics={"auc": 0.9}
        )
        a2 = store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "b"))
        b1 = store.create_model_version("fraud", artifact_id=self.artifact(metadata_store, "c"))
        assert (a1.version, a2.version, b1.version) == (1, 2, 1)
        assert store.get_model_version("churn", 1).metrics == {"auc": 0.9}
        assert [v.version for v in store.list_model_versions("churn")] == [1, 2]
        summary = {m.name: m for m in store.list_models()}
        assert summary["churn"].latest_version == 2
        assert summary["churn"].versions == 2

    def test_version_links_to_run_and_step(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Lineage: every version says which run and step produced it."""
        run = metadata_store.create_run("training", spec={}, params={}, stack="default")
        v = store.create_model_version(
            "churn", artifact_id=self.artifact(metadata_store, "a"), run_id=run.id, step="train"
        )
        assert (v.run_id, v.step) == (run.id, "train")
        artifact = metadata_store.get_artifact(v.artifact_id)
        assert artifact.content_hash == model_draft("a").content_hash

    def test_unrecorded_artifact_or_run_is_refused(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """A version whose artifact was never recorded could never be loaded nor traced
        back to the run that made it: the registry refuses it, names the artifact, says
        how to record it, and burns no version number."""
        missing = "0" * 32
        with pytest.raises(RecordNotFoundError, match="is not recorded") as info:
            store.create_model_version("churn", artifact_id=missing)
        assert repr(missing) in str(info.value)
        assert "record_artifact" in str(info.value)
        with pytest.raises(RecordNotFoundError, match="is not recorded"):
            store.create_model_version(
                "churn", artifact_id=self.artifact(metadata_store, "a"), run_id="f" * 32
            )
        assert store.list_models() == []
        first = store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "a"))
        assert first.version == 1

    def test_one_version_per_alias(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Moving `production` must take it off the old version atomically."""
        store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "a"))
        store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "b"))
        store.set_alias("churn", "production", 1)
        store.set_alias("churn", "production", 2)
        assert store.resolve_alias("churn", "production") == 2
        assert store.get_model_version("churn", 1).aliases == ()
        assert store.get_model_version("churn", 2).aliases == ("production",)
        assert store.list_models()[0].aliases == {"production": 2}

    def test_unknown_things_have_clear_errors(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Each error names what is missing and what exists, so the next command is
        obvious (``dockyard models list``, the versions or aliases to pick from)."""
        artifact_id = self.artifact(metadata_store, "a")
        store.create_model_version("churn", artifact_id=artifact_id)
        with pytest.raises(ModelNotFoundError, match="No model named 'nope'"):
            store.get_model_version("nope", 1)
        with pytest.raises(
            ModelNotFoundError, match=r"Model 'churn' has no version 7\. Versions: 1\."
        ):
            store.get_model_version("churn", 7)
        with pytest.raises(ModelNotFoundError, match=r"has no alias 'prod'\. Aliases: none"):
            store.resolve_alias("churn", "prod")
        with pytest.raises(ModelNotFoundError, match="has no version 9"):
            store.set_alias("churn", "production", 9)
        with pytest.raises(RegistryError, match="Invalid model name"):
            store.create_model_version("bad:name", artifact_id=artifact_id)
        with pytest.raises(RegistryError, match="cannot be a number"):
            store.set_alias("churn", "3", 1)

    def test_delete_refused_while_aliased(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Deleting what `production` serves would break every consumer of the alias."""
        store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "a"))
        store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "b"))
        store.set_alias("churn", "production", 1)
        with pytest.raises(RegistryError, match="in use by alias"):
            store.delete_model_version("churn", 1)
        store.delete_model_version("churn", 2)
        assert [v.version for v in store.list_model_versions("churn")] == [1]

    def test_signature_and_description_are_editable(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """A version registered without a full signature (or description) gets one later
        (``dockyard models update``), and serving validates inputs with what is stored."""
        store.create_model_version(
            "churn", artifact_id=self.artifact(metadata_store, "a"), signature=Signature()
        )
        assert store.get_model_version("churn", 1).signature == Signature()
        edited = Signature(inputs=(ColumnSpec("x", "FP64"),))
        v = store.update_model_version("churn", 1, signature=edited, description="d")
        assert v.signature == edited
        assert v.description == "d"
        assert store.get_model_version("churn", 1).signature == edited

    def test_concurrent_registrations_get_distinct_versions(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Two pipelines finishing together must not both become version 1."""
        results: list[int] = []
        errors: list[BaseException] = []

        def register(i: int) -> None:
            try:
                artifact_id = self.artifact(metadata_store, f"t{i}")
                results.append(store.create_model_version("churn", artifact_id=artifact_id).version)
            except BaseException as exc:  # collected and asserted by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sorted(results) == [1, 2, 3, 4, 5, 6]

    def test_version_numbers_are_never_reused(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """A pinned reference (`churn:3` in a deployment, a notebook, a report) must never
        come to name another model: after `churn:3` is deleted, the next registration is
        `churn:4`, even when every version was deleted."""
        for tag in ("a", "b", "c"):
            store.create_model_version("churn", artifact_id=self.artifact(metadata_store, tag))
        store.delete_model_version("churn", 3)
        assert (
            store.create_model_version(
                "churn", artifact_id=self.artifact(metadata_store, "d")
            ).version
            == 4
        )
        for version in (4, 2, 1):
            store.delete_model_version("churn", version)
        with pytest.raises(ModelNotFoundError, match="No model named 'churn'"):
            store.list_model_versions("churn")
        again = store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "e"))
        assert again.version == 5
        assert [v.version for v in store.list_model_versions("churn")] == [5]
        assert (
            store.create_model_version(
                "fraud", artifact_id=self.artifact(metadata_store, "f")
            ).version
            == 1
        )

    @pytest.mark.parametrize(
        "name",
        ["churn", "Churn_v2", "a.b-c", "x" * 255, "0"],
        ids=["plain", "mixed", "punctuation", "255-chars", "digit"],
    )
    def test_valid_model_names(
        self, store: ModelRegistryStore, metadata_store: MetadataStore, name: str
    ) -> None:
        """One rule for names everywhere (references, the CLI, serving routes): letters,
        digits, '_', '.' and '-', at most 255 characters (the column's width)."""
        record = store.create_model_version(name, artifact_id=self.artifact(metadata_store, "a"))
        assert store.get_model_version(name, record.version).name == name

    @pytest.mark.parametrize(
        "name",
        ["", "bad:name", "bad@name", "a/b", "with space", "tab\t", "é", "x" * 256, "a\nb"],
        ids=["empty", "colon", "at", "slash", "space", "tab", "accent", "256-chars", "newline"],
    )
    def test_invalid_model_names_are_refused(
        self, store: ModelRegistryStore, metadata_store: MetadataStore, name: str
    ) -> None:
        """A name a reference cannot spell (`NAME:VERSION`, `NAME@ALIAS`) could be
        registered but never served, loaded or deleted; one too long for the column would
        fail inside the database. Both are refused up front, naming the value and the rule."""
        artifact_id = self.artifact(metadata_store, "a")
        with pytest.raises(RegistryError, match="Invalid model name") as info:
            store.create_model_version(name, artifact_id=artifact_id)
        message = str(info.value)
        assert repr(name)[:40].rstrip("'") in message
        assert "letters, digits" in message
        assert store.list_models() == []

    def test_concurrent_alias_moves_never_fail(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Rollout controllers and operators move `production` at the same time: every
        move must succeed (last writer wins), never fail on the alias's key, and the alias
        must end on exactly one version."""
        versions = [
            store.create_model_version(
                "churn", artifact_id=self.artifact(metadata_store, f"v{i}")
            ).version
            for i in range(3)
        ]
        errors = _run_together(
            [partial(store.set_alias, "churn", "production", versions[i % 3]) for i in range(12)]
        )
        assert errors == []
        final = store.resolve_alias("churn", "production")
        assert final in versions
        holders = [v.version for v in store.list_model_versions("churn") if v.aliases]
        assert holders == [final]

    def test_delete_and_alias_race_cleanly(
        self, store: ModelRegistryStore, metadata_store: MetadataStore
    ) -> None:
        """Deleting a version while someone points an alias at it must end one way or the
        other (the alias is set and the delete refused, or the version is gone and the
        alias refused), each with the registry's own error, never a database error and
        never an alias on a deleted version."""
        store.create_model_version("churn", artifact_id=self.artifact(metadata_store, "keep"))
        for round_ in range(6):
            version = store.create_model_version(
                "churn", artifact_id=self.artifact(metadata_store, f"r{round_}")
            ).version
            errors = _run_together(
                [
                    partial(store.set_alias, "churn", "candidate", version),
                    partial(store.delete_model_version, "churn", version),
                ]
            )
            assert all(isinstance(e, RegistryError) for e in errors), errors
            assert len(errors) == 1, errors
            exists = version in [v.version for v in store.list_model_versions("churn")]
            if exists:
                assert "in use by alias" in str(errors[0])
                assert store.resolve_alias("churn", "candidate") == version
                store.set_alias("churn", "candidate", 1)
            else:
                assert isinstance(errors[0], ModelNotFoundError)
                assert "has no version" in str(errors[0])


def _run_together(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Start ``calls`` on threads at once; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            call()
        except BaseException as exc:  # collected and asserted by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors
