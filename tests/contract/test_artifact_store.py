"""The ArtifactStore contract (:mod:`dockyard.testing.artifact_store`) on every adapter.

Adapters: in memory, a local folder, fsspec's memory filesystem, and S3 (moto's server).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dockyard.artifacts import ArtifactStore, MemoryArtifactStore
from dockyard.artifacts.fsspec_store import FsspecArtifactStore
from dockyard.testing import ArtifactStoreContract
from dockyard.testing.artifact_store import Tamper


class TestMemory(ArtifactStoreContract):
    # The in-memory fake is never a project's store: nothing to re-run with --no-cache.
    missing_error_names_a_fix = False

    @pytest.fixture
    def store(self) -> MemoryArtifactStore:
        return MemoryArtifactStore()

    @pytest.fixture
    def tamper(self, store: MemoryArtifactStore) -> Tamper:
        def tamper(uri: str, data: bytes) -> None:
            store._blobs[uri] = data

        return tamper


class TestLocal(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        return FsspecArtifactStore(str(tmp_path / "artifacts dir"))

    @pytest.fixture
    def tamper(self) -> Tamper:
        def tamper(uri: str, data: bytes) -> None:
            with open(unquote(urlsplit(uri).path), "wb") as f:
                f.write(data)

        return tamper


class TestFsspecMemory(ArtifactStoreContract):
    @pytest.fixture
    def store(self) -> ArtifactStore:
        return FsspecArtifactStore(f"memory://dockyard-{uuid.uuid4().hex}/art")

    @pytest.fixture
    def tamper(self) -> Tamper:
        import fsspec

        def tamper(uri: str, data: bytes) -> None:
            fsspec.filesystem("memory").pipe_file(uri, data)

        return tamper


@pytest.mark.s3
class TestS3(ArtifactStoreContract):
    @pytest.fixture
    def store(self, s3_endpoint: str, s3_bucket: str) -> ArtifactStore:
        options = {
            "client_kwargs": {"endpoint_url": s3_endpoint},
            "key": "testing",
            "secret": "testing",
            # A fresh filesystem per test: s3fs caches instances (and listings) by options.
            "skip_instance_cache": True,
        }
        return FsspecArtifactStore(s3_bucket, storage_options=options)

    @pytest.fixture
    def tamper(self, s3_endpoint: str) -> Tamper:
        import boto3

        client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

        def tamper(uri: str, data: bytes) -> None:
            bucket, key = uri.removeprefix("s3://").split("/", 1)
            client.put_object(Bucket=bucket, Key=key, Body=data)

        return tamper
