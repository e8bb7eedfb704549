"""The ArtifactStore contract, for every adapter.

Each test says why the rule exists: the step cache, lineage and the model registry all
rely on these guarantees without knowing which store is configured.

A subclass provides two fixtures:

- ``store``: a fresh, empty :class:`~dockyard.artifacts.ArtifactStore`.
- ``tamper``: a function ``tamper(uri, data)`` that overwrites the bytes stored at
  ``uri`` behind the store's back, as a disk error or a person would.

Example::

    class TestMyStore(ArtifactStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path)

        @pytest.fixture
        def tamper(self, store):
            return lambda uri, data: store.raw_write(uri, data)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import ClassVar

import pytest

from dockyard.artifacts.base import ArtifactStore, StoredBlob, content_hash
from dockyard.errors import ArtifactCorruptedError, ArtifactNotFoundError

__all__ = ["ArtifactStoreContract", "Tamper"]

#: ``tamper(uri, data)``: overwrite what is stored at ``uri`` without the store knowing.
Tamper = Callable[[str, bytes], None]


class ArtifactStoreContract:
    """The rules every artifact store keeps. Subclass it in a ``Test*`` class.

    Fixtures to provide: ``store`` and ``tamper`` (see the module docstring).

    Attributes:
        missing_error_names_a_fix: the not-found message tells how to write the
            artifact again (``--no-cache``). Set to False only for a store nobody
            configures in a project (an in-memory fake).
    """

    missing_error_names_a_fix: ClassVar[bool] = True

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def store(self) -> ArtifactStore:
        """A fresh, empty store under test."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'store' fixture (see "
            "dockyard.testing.ArtifactStoreContract)"
        )

    @pytest.fixture
    def tamper(self) -> Tamper:
        """``tamper(uri, data)`` overwrites the bytes at ``uri`` behind the store's back."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'tamper' fixture (see "
            "dockyard.testing.ArtifactStoreContract)"
        )

    # helpers a subclass may override ---------------------------------------------------
    def missing_uri(self, store: ArtifactStore) -> str:
        """A well-formed URI in ``store`` for bytes nobody stored.

        The default takes the URI of stored bytes and swaps their hash (and a
        ``<hash[:2]>/`` shard folder) for the hash of bytes never stored.
        """
        uri = store.put(b"anchor").uri
        anchor, missing = content_hash(b"anchor"), content_hash(b"never stored")
        return uri.replace(anchor[:2] + "/", missing[:2] + "/").replace(anchor, missing)

    # the rules -------------------------------------------------------------------------
    def test_round_trip(self, store: ArtifactStore) -> None:
        """Steps hand values to later steps through the store: bytes must come back as put."""
        data = bytes(range(256)) * 3
        blob = store.put(data)
        assert blob.content_hash == content_hash(data)
        assert blob.size == len(data)
        assert store.get(blob.uri) == data

    def test_empty_blob_round_trips(self, store: ArtifactStore) -> None:
        """An empty output (an empty file, b"") is a value too, not an absent artifact."""
        blob = store.put(b"")
        assert store.exists(blob.uri)
        assert store.get(blob.uri) == b""

    def test_put_is_idempotent(self, store: ArtifactStore) -> None:
        """Content addressing: the same bytes from many steps or reruns are stored once, at
        one URI, so lineage can compare artifacts by URI and reruns cost no extra storage."""
        first = store.put(b"same bytes")
        second = store.put(bytearray(b"same bytes"))  # type: ignore[arg-type]  # bytes-like
        assert first == second
        assert store.get(first.uri) == b"same bytes"
        assert store.put(b"other bytes").uri != first.uri

    def test_uri_ends_with_the_content_hash(self, store: ArtifactStore) -> None:
        """Any reader can verify a blob from its URI alone (verify() relies on it)."""
        blob = store.put(b"addressed")
        assert blob.uri.endswith("/" + content_hash(b"addressed"))

    def test_exists(self, store: ArtifactStore) -> None:
        """A cache hit is only a hit if its artifacts are still there to load."""
        blob = store.put(b"present")
        assert store.exists(blob.uri)
        assert not store.exists(self.missing_uri(store))

    def test_missing_blob_raises_not_found_with_a_fix(self, store: ArtifactStore) -> None:
        """A deleted artifact must say which one and how to get it back, not raise KeyError
        from deep inside a filesystem library."""
        uri = self.missing_uri(store)
        with pytest.raises(ArtifactNotFoundError) as info:
            store.get(uri)
        assert uri in str(info.value)
        assert isinstance(info.value, KeyError)  # ``except KeyError`` keeps working
        if self.missing_error_names_a_fix:
            assert "--no-cache" in str(info.value)

    def test_corrupted_bytes_are_detected(self, store: ArtifactStore, tamper: Tamper) -> None:
        """A model loaded from damaged bytes would serve wrong predictions silently; the
        store verifies every read against the hash in the URI."""
        blob = store.put(b"the real model weights")
        tamper(blob.uri, b"the fake model weights")
        with pytest.raises(ArtifactCorruptedError, match="corrupted"):
            store.get(blob.uri)

    def test_put_repairs_a_corrupted_blob(self, store: ArtifactStore, tamper: Tamper) -> None:
        """The corruption error tells users to re-run with --no-cache; that re-run puts the
        same bytes again, and the store must then rewrite them rather than skip."""
        blob = store.put(b"weights v1")
        tamper(blob.uri, b"truncated")
        assert store.put(b"weights v1") == blob
        assert store.get(blob.uri) == b"weights v1"

    def test_put_repairs_a_same_size_corruption(self, store: ArtifactStore, tamper: Tamper) -> None:
        """A flipped byte keeps the size: a store that skips the write when the stored
        size matches could never be repaired, and --no-cache (the fix every corruption
        error suggests) would fail forever. Putting the same bytes again must rewrite them."""
        data = b"model weights, version one"
        blob = store.put(data)
        flipped = bytes([data[0] ^ 0x01]) + data[1:]
        assert len(flipped) == len(data)
        tamper(blob.uri, flipped)
        with pytest.raises(ArtifactCorruptedError):
            store.get(blob.uri)
        assert store.put(data) == blob
        assert store.get(blob.uri) == data

    def test_concurrent_puts_from_threads(self, store: ArtifactStore) -> None:
        """The parallel orchestrator saves outputs of several steps at once, often the same
        bytes (an empty list, a shared config): no error, no torn blob, one URI per content."""
        payloads = [f"payload {i % 5}".encode() * 200 for i in range(40)]
        results: list[StoredBlob | None] = [None] * len(payloads)
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def worker(offset: int) -> None:
            try:
                start.wait()
                for i in range(offset, len(payloads), 8):
                    results[i] = store.put(payloads[i])
            except BaseException as exc:  # collected and asserted by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        blobs = [r for r in results if r is not None]
        assert len(blobs) == len(payloads)
        assert len({b.uri for b in blobs}) == 5
        for payload, blob in zip(payloads, blobs, strict=True):
            assert store.get(blob.uri) == payload

    def test_large_blob(self, store: ArtifactStore) -> None:
        """Models and datasets are megabytes, not bytes: they must survive whole."""
        data = os.urandom(5 * 1024 * 1024 + 17)
        blob = store.put(data)
        assert blob.size == len(data)
        assert store.get(blob.uri) == data

    def test_describe_names_the_flavor(self, store: ArtifactStore) -> None:
        """``dockyard stack show`` prints describe(): it must say what the store is."""
        assert store.describe()["flavor"] == store.flavor
