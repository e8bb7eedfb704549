"""A registered version whose model bytes are gone or damaged (issue #8, item 23).

The error names the version (``iris:1``), not only a blob URI, and gives repairs that
fix *that* version: put the bytes back, or register a new version, move the aliases and
delete the broken one. "Re-run with --no-cache" alone registers ``iris:2`` and leaves
``iris:1`` and its alias broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from sklearn.linear_model import LogisticRegression

from dockyard import Model, pipeline, register_model, step
from dockyard.errors import ArtifactCorruptedError, ArtifactError, ArtifactNotFoundError
from dockyard.registry.model import (
    artifact_missing,
    broken_artifact_error,
    get_model_version,
    load_model,
)
from dockyard.stacks.stack import clear_cache, load_stack


@pytest.fixture(autouse=True)
def _fresh(project: Path):
    clear_cache()
    yield
    clear_cache()


@step
def fit() -> Annotated[Model, "iris"]:
    return Model(LogisticRegression(max_iter=200).fit([[0.0], [1.0]], [0, 1]))


@pipeline
def train() -> None:
    fit()


def _blob_path(ref: str) -> Path:
    stack = load_stack()
    artifact = stack.metadata_store.get_artifact(get_model_version(ref).artifact_id)
    digest = artifact.content_hash
    return stack.config_dir / "artifacts" / digest[:2] / digest


def _registered(alias: str | None = "production") -> str:
    run = train()
    if alias:
        load_stack().registry_store.set_alias("iris", alias, 1)
    return run.id


def test_missing_bytes_name_the_version_and_the_repairs() -> None:
    run_id = _registered()
    _blob_path("iris:1").unlink()
    with pytest.raises(ArtifactNotFoundError) as info:
        load_model("iris@production")
    message = str(info.value)
    assert message.startswith("Model version iris:1 cannot be loaded:")
    assert "are missing" in message
    assert "put the original bytes back at that URI" in message
    assert f"re-run the pipeline of run {run_id[:8]} with --no-cache" in message
    assert "point production at it (dockyard models alias iris:NEW production)" in message
    assert "delete the broken one (dockyard models delete iris:1)" in message
    # the store's own error (which names only the blob) is kept as the cause
    assert isinstance(info.value.__cause__, ArtifactNotFoundError)


def test_damaged_bytes_say_so() -> None:
    _registered(alias=None)
    blob = _blob_path("iris:1")
    blob.write_bytes(b"not the model")
    with pytest.raises(ArtifactCorruptedError) as info:
        load_model("iris:1")
    message = str(info.value)
    assert message.startswith("Model version iris:1 cannot be loaded:")
    assert "are damaged (they no longer match their SHA-256)" in message
    assert "point" not in message  # no alias to move
    assert "dockyard models delete iris:1" in message


def test_artifact_missing_is_an_existence_check() -> None:
    _registered(alias=None)
    record = get_model_version("iris:1")
    stack = load_stack()
    assert artifact_missing(record, stack) is False
    _blob_path("iris:1").write_bytes(b"damaged, but there")
    assert artifact_missing(record, stack) is False  # damage is found when loading
    _blob_path("iris:1").unlink()
    assert artifact_missing(record, stack) is True


def test_outside_a_run_the_repair_is_to_register_again() -> None:
    model = LogisticRegression(max_iter=200).fit([[0.0], [1.0]], [0, 1])
    record = register_model("tiny", model)
    artifact = load_stack().metadata_store.get_artifact(record.artifact_id)
    error = broken_artifact_error(record.ref, artifact)
    assert isinstance(error, ArtifactNotFoundError)
    assert isinstance(error, ArtifactError)
    assert "call dockyard.register_model again to register a new version" in str(error)
    assert "tiny:1" in str(error)
