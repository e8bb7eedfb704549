"""Contract of the model registry store, on every metadata adapter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import ModelNotFoundError, RegistryError
from dockyard.metadata import ArtifactDraft
from dockyard.metadata.sql_store import SqlMetadataStore


@pytest.fixture(
    params=[
        pytest.param("sqlite-file", id="sqlite-file"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlMetadataStore]:
    if request.param == "sqlite-file":
        url = f"sqlite:///{tmp_path}/metadata.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    s = SqlMetadataStore(url)
    yield s
    s.close()


def draft(tag: str) -> ArtifactDraft:
    import hashlib

    digest = hashlib.sha256(tag.encode()).hexdigest()
    return ArtifactDraft(
        uri=f"memory://{digest}",
        content_hash=digest,
        size=len(tag),
        data_type="sklearn.linear_model._logistic.LogisticRegression",
        materializer="sklearn",
        materializer_version="1",
    )


def test_versions_are_numbered_per_model(store: SqlMetadataStore) -> None:
    """Users talk about `churn:3`; numbers must be dense and per model."""
    a1 = store.create_model_version("churn", artifact=draft("a"), metrics={"auc": 0.9})
    a2 = store.create_model_version("churn", artifact=draft("b"))
    b1 = store.create_model_version("fraud", artifact=draft("c"))
    assert (a1.version, a2.version, b1.version) == (1, 2, 1)
    assert store.get_model_version("churn", 1).metrics == {"auc": 0.9}
    assert [v.version for v in store.list_model_versions("churn")] == [1, 2]
    summary = {m.name: m for m in store.list_models()}
    assert summary["churn"].latest_version == 2
    assert summary["churn"].versions == 2


def test_version_links_to_run_and_step(store: SqlMetadataStore) -> None:
    """Lineage: every version says which run and step produced it."""
    run = store.create_run("training", spec={}, params={}, stack="default")
    v = store.create_model_version("churn", artifact=draft("a"), run_id=run.id, step="train")
    assert (v.run_id, v.step) == (run.id, "train")
    assert store.get_artifact(v.artifact_id).content_hash == draft("a").content_hash


def test_one_version_per_alias(store: SqlMetadataStore) -> None:
    """Moving `production` must take it off the old version atomically."""
    store.create_model_version("churn", artifact=draft("a"))
    store.create_model_version("churn", artifact=draft("b"))
    store.set_alias("churn", "production", 1)
    store.set_alias("churn", "production", 2)
    assert store.resolve_alias("churn", "production") == 2
    assert store.get_model_version("churn", 1).aliases == ()
    assert store.get_model_version("churn", 2).aliases == ("production",)
    assert store.list_models()[0].aliases == {"production": 2}


def test_unknown_things_have_clear_errors(store: SqlMetadataStore) -> None:
    store.create_model_version("churn", artifact=draft("a"))
    with pytest.raises(ModelNotFoundError, match="No model named 'nope'"):
        store.get_model_version("nope", 1)
    with pytest.raises(ModelNotFoundError, match=r"Model 'churn' has no version 7\. Versions: 1\."):
        store.get_model_version("churn", 7)
    with pytest.raises(ModelNotFoundError, match=r"has no alias 'prod'\. Aliases: none"):
        store.resolve_alias("churn", "prod")
    with pytest.raises(ModelNotFoundError, match="has no version 9"):
        store.set_alias("churn", "production", 9)
    with pytest.raises(RegistryError, match="Invalid model name"):
        store.create_model_version("bad:name", artifact=draft("x"))
    with pytest.raises(RegistryError, match="cannot be a number"):
        store.set_alias("churn", "3", 1)


def test_delete_refused_while_aliased(store: SqlMetadataStore) -> None:
    """Deleting what `production` serves would break every consumer of the alias."""
    store.create_model_version("churn", artifact=draft("a"))
    store.create_model_version("churn", artifact=draft("b"))
    store.set_alias("churn", "production", 1)
    with pytest.raises(RegistryError, match="in use by alias"):
        store.delete_model_version("churn", 1)
    store.delete_model_version("churn", 2)
    assert [v.version for v in store.list_model_versions("churn")] == [1]


def test_signature_and_description_are_editable(store: SqlMetadataStore) -> None:
    store.create_model_version("churn", artifact=draft("a"), signature={"inputs": []})
    v = store.update_model_version(
        "churn", 1, signature={"inputs": [{"name": "x", "datatype": "FP64"}]}, description="d"
    )
    assert v.signature == {"inputs": [{"name": "x", "datatype": "FP64"}]}
    assert v.description == "d"


def test_concurrent_registrations_get_distinct_versions(store: SqlMetadataStore) -> None:
    """Two pipelines finishing together must not both become version 1."""
    results: list[int] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            results.append(store.create_model_version("churn", artifact=draft(f"t{i}")).version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
