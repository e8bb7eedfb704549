"""RuntimeSpec as JSON: what `dockyard containerize` writes and `dockyard serve --spec`
reads back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dockyard.errors import ServingError
from dockyard.metadata.base import ArtifactRecord
from dockyard.registry.signature import Signature
from dockyard.runtime.spec import RuntimeSpec

ARTIFACT = ArtifactRecord(
    id="a1",
    uri="file:///somewhere/ab/" + "ab" * 32,
    content_hash="sha256:" + "ab" * 32,
    size=12,
    data_type="sklearn.linear_model.LogisticRegression",
    materializer="sklearn",
    materializer_version="1",
    unsafe=False,
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def _spec(**changes: object) -> RuntimeSpec:
    values: dict[str, object] = {
        "name": "churn",
        "version": 3,
        "signature": None,
        "artifact": ARTIFACT,
        "artifact_store": {"flavor": "local", "path": "artifacts"},
    }
    values.update(changes)
    return RuntimeSpec(**values)  # type: ignore[arg-type]


def test_round_trip_through_json() -> None:
    spec = _spec(trust_pickle=True)
    back = RuntimeSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec


def test_round_trip_with_a_signature() -> None:
    signature = Signature.from_dict(
        {"inputs": [{"name": "a", "dtype": "FP64"}, {"name": "b", "dtype": "FP64"}]}
    )
    spec = _spec(signature=signature)
    assert RuntimeSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_a_relative_store_path_is_taken_from_the_spec_folder(tmp_path) -> None:
    back = RuntimeSpec.from_dict(_spec().to_dict(), base_dir=str(tmp_path))
    assert back.artifact_store["path"] == str(tmp_path / "artifacts")
    remote = _spec(artifact_store={"flavor": "fsspec", "path": "s3://bucket/art"})
    assert RuntimeSpec.from_dict(remote.to_dict(), base_dir="/x").artifact_store["path"] == (
        "s3://bucket/art"
    )


def test_not_a_spec() -> None:
    with pytest.raises(ServingError, match="Not a serve spec written by dockyard containerize"):
        RuntimeSpec.from_dict({"name": "churn"})
