"""The ArtifactStore contract, run against every adapter.

Each test says why the rule exists: the step cache, lineage and the model registry all
rely on these guarantees without knowing which store is configured.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pytest

from dockyard.artifacts import ArtifactStore, MemoryArtifactStore, content_hash
from dockyard.artifacts.fsspec_store import FsspecArtifactStore
from dockyard.errors import ArtifactCorruptedError, ArtifactNotFoundError


@dataclass
class Harness:
    """A store plus a way to damage what it holds, as a disk error or a person would."""

    store: ArtifactStore
    tamper: Callable[[str, bytes], None]


def _memory_store() -> Harness:
    store = MemoryArtifactStore()

    def tamper(uri: str, data: bytes) -> None:
        store._blobs[uri] = data

    return Harness(store, tamper)


def _local_store(tmp_path) -> Harness:
    def tamper(uri: str, data: bytes) -> None:
        with open(unquote(urlsplit(uri).path), "wb") as f:
            f.write(data)

    return Harness(FsspecArtifactStore(str(tmp_path / "artifacts dir")), tamper)


def _fsspec_memory_store() -> Harness:
    import fsspec

    def tamper(uri: str, data: bytes) -> None:
        fsspec.filesystem("memory").pipe_file(uri, data)

    return Harness(FsspecArtifactStore(f"memory://dockyard-{uuid.uuid4().hex}/art"), tamper)


def _s3_store(request: pytest.FixtureRequest) -> Harness:
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    url = request.getfixturevalue("s3_bucket")
    options = {
        "client_kwargs": {"endpoint_url": endpoint},
        "key": "testing",
        "secret": "testing",
        # A fresh filesystem per test: s3fs caches instances (and listings) by options.
        "skip_instance_cache": True,
    }
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def tamper(uri: str, data: bytes) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        client.put_object(Bucket=bucket, Key=key, Body=data)

    return Harness(FsspecArtifactStore(url, storage_options=options), tamper)


@pytest.fixture(
    params=[
        "memory",
        "local",
        "fsspec-memory",
        pytest.param("s3", marks=pytest.mark.s3),
    ]
)
def harness(request: pytest.FixtureRequest, tmp_path) -> Iterator[Harness]:
    kind = request.param
    if kind == "memory":
        yield _memory_store()
    elif kind == "local":
        yield _local_store(tmp_path)
    elif kind == "fsspec-memory":
        yield _fsspec_memory_store()
    else:
        yield _s3_store(request)


def _missing_uri(store: ArtifactStore) -> str:
    """A well-formed URI in ``store`` for bytes nobody stored."""
    uri = store.put(b"anchor").uri
    anchor, missing = content_hash(b"anchor"), content_hash(b"never stored")
    return uri.replace(anchor[:2] + "/", missing[:2] + "/").replace(anchor, missing)


def test_round_trip(harness: Harness) -> None:
    """Steps hand values to later steps through the store: bytes must come back as put."""
    data = bytes(range(256)) * 3
    blob = harness.store.put(data)
    assert blob.content_hash == content_hash(data)
    assert blob.size == len(data)
    assert harness.store.get(blob.uri) == data


def test_empty_blob_round_trips(harness: Harness) -> None:
    """An empty output (an empty file, b"") is a value too, not an absent artifact."""
    blob = harness.store.put(b"")
    assert harness.store.exists(blob.uri)
    assert harness.store.get(blob.uri) == b""


def test_put_is_idempotent(harness: Harness) -> None:
    """Content addressing: the same bytes from many steps or reruns are stored once, at
    one URI, so lineage can compare artifacts by URI and reruns cost no extra storage."""
    first = harness.store.put(b"same bytes")
    second = harness.store.put(bytearray(b"same bytes"))
    assert first == second
    assert harness.store.get(first.uri) == b"same bytes"
    assert harness.store.put(b"other bytes").uri != first.uri


def test_uri_ends_with_the_content_hash(harness: Harness) -> None:
    """Any reader can verify a blob from its URI alone (verify() relies on it)."""
    blob = harness.store.put(b"addressed")
    assert blob.uri.endswith("/" + content_hash(b"addressed"))


def test_exists(harness: Harness) -> None:
    """A cache hit is only a hit if its artifacts are still there to load."""
    blob = harness.store.put(b"present")
    assert harness.store.exists(blob.uri)
    assert not harness.store.exists(_missing_uri(harness.store))


def test_missing_blob_raises_not_found_with_a_fix(harness: Harness) -> None:
    """A deleted artifact must say which one and how to get it back, not raise KeyError
    from deep inside a filesystem library."""
    uri = _missing_uri(harness.store)
    with pytest.raises(ArtifactNotFoundError) as info:
        harness.store.get(uri)
    assert uri in str(info.value)
    assert isinstance(info.value, KeyError)  # ``except KeyError`` keeps working
    if not isinstance(harness.store, MemoryArtifactStore):
        assert "--no-cache" in str(info.value)


def test_corrupted_bytes_are_detected(harness: Harness) -> None:
    """A model loaded from damaged bytes would serve wrong predictions silently; the
    store verifies every read against the hash in the URI."""
    blob = harness.store.put(b"the real model weights")
    harness.tamper(blob.uri, b"the fake model weights")
    with pytest.raises(ArtifactCorruptedError, match="corrupted"):
        harness.store.get(blob.uri)


def test_put_repairs_a_corrupted_blob(harness: Harness) -> None:
    """The corruption error tells users to re-run with --no-cache; that re-run puts the
    same bytes again, and the store must then rewrite them rather than skip."""
    blob = harness.store.put(b"weights v1")
    harness.tamper(blob.uri, b"truncated")
    assert harness.store.put(b"weights v1") == blob
    assert harness.store.get(blob.uri) == b"weights v1"


def test_concurrent_puts_from_threads(harness: Harness) -> None:
    """The parallel orchestrator saves outputs of several steps at once, often the same
    bytes (an empty list, a shared config): no error, no torn blob, one URI per content."""
    payloads = [f"payload {i % 5}".encode() * 200 for i in range(40)]
    results: list = [None] * len(payloads)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        try:
            start.wait()
            for i in range(offset, len(payloads), 8):
                results[i] = harness.store.put(payloads[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.uri for r in results}) == 5
    for payload, blob in zip(payloads, results, strict=True):
        assert harness.store.get(blob.uri) == payload


def test_large_blob(harness: Harness) -> None:
    """Models and datasets are megabytes, not bytes: they must survive whole."""
    data = os.urandom(5 * 1024 * 1024 + 17)
    blob = harness.store.put(data)
    assert blob.size == len(data)
    assert harness.store.get(blob.uri) == data


def test_describe_names_the_flavor(harness: Harness) -> None:
    """``dockyard stack show`` prints describe(): it must say what the store is."""
    assert harness.store.describe()["flavor"] == harness.store.flavor
