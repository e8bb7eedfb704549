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


# what the local folder adds ---------------------------------------------------------------
def test_stale_temporary_files_are_swept_on_put(tmp_path: Path) -> None:
    """A writer killed mid-write leaves ``<blob>.<pid>-<tid>-<rand>.tmp`` behind; the
    next write into that folder removes those untouched for STALE_TMP_S, and leaves a
    live writer's (recent) file alone."""
    import os
    import time

    from dockyard.artifacts.base import content_hash
    from dockyard.artifacts.fsspec_store import STALE_TMP_S

    root = tmp_path / "artifacts"
    digest = content_hash(b"after the crash")
    shard = root / digest[:2]
    shard.mkdir(parents=True)
    stale = shard / f"{'0' * 64}.123-456-deadbeef.tmp"
    fresh = shard / f"{'1' * 64}.789-012-cafebabe.tmp"
    other = shard / "notes.txt"
    for path in (stale, fresh, other):
        path.write_bytes(b"half a blob")
    old = time.time() - STALE_TMP_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))

    blob = FsspecArtifactStore(str(root)).put(b"after the crash")
    assert not stale.exists()
    assert fresh.exists()
    assert other.exists()
    assert FsspecArtifactStore(str(root)).get(blob.uri) == b"after the crash"


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (OSError(28, "No space left on device"), "Free space on the disk holding {root}"),
        (PermissionError(13, "Permission denied"), "Make {root} writable for this user"),
        (OSError(5, "Input/output error"), "Check the artifact store at {root}"),
    ],
    ids=["full-disk", "permission", "other"],
)
def test_a_failed_local_write_names_the_folder_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, fix: str
) -> None:
    """ENOSPC used to surface as a bare OSError naming no path; the message now names
    the store's folder, the reason, and what to do. No temporary file is left."""
    import os

    from dockyard.errors import ArtifactError

    root = tmp_path / "artifacts"
    store = FsspecArtifactStore(str(root))

    def fail(*_args: object) -> None:
        raise error

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ArtifactError) as info:
        store.put(b"a model")
    assert str(info.value).startswith(
        f"Cannot write an artifact to the artifact store at {root}: {error.strerror}. "
        + fix.format(root=root)
    )
    assert str(info.value).endswith(
        "then run again (the steps that completed are reused from the cache)."
    )
    assert isinstance(info.value.__cause__, OSError)
    assert [p.name for p in root.rglob("*.tmp")] == []


@pytest.mark.s3
def test_a_missing_bucket_is_named_on_get(s3_endpoint: str) -> None:
    from dockyard.errors import ArtifactNotFoundError

    store = FsspecArtifactStore(
        "s3://not-a-bucket-here/art",
        storage_options={
            "client_kwargs": {"endpoint_url": s3_endpoint},
            "key": "testing",
            "secret": "testing",
            "skip_instance_cache": True,
        },
    )
    uri = "s3://not-a-bucket-here/art/ab/" + "ab" * 32
    with pytest.raises(ArtifactNotFoundError) as info:
        store.get(uri)
    assert str(info.value) == (
        f"No artifact bytes at {uri}: the store's bucket 'not-a-bucket-here' does not "
        "exist, or these credentials cannot see it; create it (e.g. aws s3 mb "
        "s3://not-a-bucket-here) or fix the artifact_store path in the stack."
    )
