"""The artifact store on a local folder or any fsspec filesystem (S3, GCS, Azure, memory).

Blobs live at ``<root>/<hash[:2]>/<hash>``. A local folder is served with plain
``open``/``os`` calls (no fsspec import, no per-call overhead); anything with a protocol
(``s3://bucket/prefix``, ``gcs://...``, ``memory://x``) goes through fsspec.

Example::

    store = FsspecArtifactStore(".dockyard/artifacts")
    blob = store.put(b"hello")      # blob.uri == "file:///.../2c/2cf24dba..."
    assert store.get(blob.uri) == b"hello"

    s3 = FsspecArtifactStore(
        "s3://bucket/artifacts",
        storage_options={"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}},
    )

A URI is resolved by the content hash it ends with, under *this* store's root: the blobs
are content-addressed, so the same hash means the same bytes (and ``get`` verifies them).
That keeps artifacts readable when the store folder is mounted at another path, as in a
container running one step.

``put`` of bytes already stored must still repair a damaged copy (re-running a step with
``--no-cache`` is the documented fix for a corrupted artifact): the local folder compares
the stored bytes, which costs a local read; an object store is simply written again,
which costs no more than the download a comparison would need (and uploads are free on
S3 where downloads are not). A local writer killed mid-write leaves a ``*.tmp`` file; one
untouched for :data:`STALE_TMP_S` is removed the first time this process writes into
its folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dockyard.artifacts.base import ArtifactStore, StoredBlob, content_hash, verify
from dockyard.errors import ArtifactError, ArtifactNotFoundError

_HASH = re.compile(r"[0-9a-f]{64}")
_LOCAL_PROTOCOLS = ("file://", "local://")
# Object stores make a written object visible whole or not at all, so a blob can be
# written in place; other filesystems (sftp, smb...) get a temporary name and a move.
_ATOMIC_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss", "memory"}
)
#: A temporary blob untouched for this long was left by a writer that died mid-write
#: (a live writer's file changes as it writes, and one write takes seconds, not minutes).
STALE_TMP_S = 15 * 60
_AGAIN = "then run again (the steps that completed are reused from the cache)"


def _hash_of(uri: str) -> str | None:
    digest = uri.rstrip("/").rsplit("/", 1)[-1]
    return digest if _HASH.fullmatch(digest) else None


def _without_credentials(url: str) -> str:
    """``url`` minus any ``user:password@`` part, for display."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class FsspecArtifactStore(ArtifactStore):
    """Content-addressed blobs in a folder or behind an fsspec URL. Thread-safe.

    Args:
        path: a local folder (``.dockyard/artifacts``, ``file:///data/art``) or an fsspec
            URL (``s3://bucket/prefix``, ``gcs://bucket/prefix``, ``memory://name``).
        storage_options: passed to the fsspec filesystem (credentials, ``client_kwargs``
            such as ``{"endpoint_url": ...}``). Never shown by :meth:`describe`.
    """

    flavor = "fsspec"

    def __init__(
        self, path: str, storage_options: dict[str, Any] | None = None, **_ignored: Any
    ) -> None:
        self._path = str(path)
        self._storage_options = dict(storage_options or {})
        self._local = "://" not in self._path or self._path.startswith(_LOCAL_PROTOCOLS)
        self.flavor = "local" if self._local else "fsspec"  # type: ignore[misc]
        self._made_dirs: set[str] = set()
        self._fs: Any = None
        if self._local:
            folder = self._path.split("://", 1)[1] if "://" in self._path else self._path
            self._root = os.path.abspath(os.path.expanduser(folder))
            self._uri_root = Path(self._root).as_uri().rstrip("/")
        else:
            from fsspec.core import url_to_fs

            self._fs, root = url_to_fs(self._path, **self._storage_options)
            self._root = str(root).rstrip("/")
            self._uri_root = str(self._fs.unstrip_protocol(self._root)).rstrip("/")
            protocols = self._fs.protocol
            protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
            self._atomic = any(p in _ATOMIC_PROTOCOLS for p in protocols)

    # -- the port ------------------------------------------------------------------------

    def put(self, data: bytes) -> StoredBlob:
        data = bytes(data)
        digest = content_hash(data)
        blob = StoredBlob(f"{self._uri_root}/{digest[:2]}/{digest}", digest, len(data))
        try:
            if self._local:
                self._put_local(digest, data)
            else:
                self._put_remote(digest, data)
        except OSError as exc:
            raise self._write_error(exc) from exc
        return blob

    def get(self, uri: str) -> bytes:
        digest = _hash_of(uri)
        if digest is None:
            raise self._not_found(uri, "it does not end with a SHA-256 content hash")
        try:
            if self._local:
                with open(self._local_path(digest), "rb") as f:
                    data = f.read()
            else:
                data = self._fs.cat_file(self._remote_path(digest))
        except FileNotFoundError as exc:
            if _bucket_missing(exc):
                raise ArtifactNotFoundError(
                    f"No artifact bytes at {uri}: {self._bucket_missing_text()}."
                ) from None
            raise self._not_found(uri, "the blob is not there") from None
        return verify(uri, data)

    def exists(self, uri: str) -> bool:
        digest = _hash_of(uri)
        if digest is None:
            return False
        if self._local:
            return os.path.isfile(self._local_path(digest))
        return bool(self._fs.exists(self._remote_path(digest)))

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, "path": _without_credentials(self._path)}

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({_without_credentials(self._path)!r})"

    # -- local folder: plain os calls ----------------------------------------------------

    def _local_path(self, digest: str) -> str:
        return os.path.join(self._root, digest[:2], digest)

    def _put_local(self, digest: str, data: bytes) -> None:
        path = self._local_path(digest)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            pass
        else:
            # Already stored: skip, unless the stored copy was damaged. Re-running a step
            # with --no-cache is the documented repair, so it must be able to rewrite.
            if size == len(data) and _read(path) == data:
                return
        folder = os.path.dirname(path)
        if folder not in self._made_dirs:
            os.makedirs(folder, exist_ok=True)
            _sweep_stale_tmp(folder)
            self._made_dirs.add(folder)
        # A unique temporary name per writer, then an atomic rename: readers never see a
        # half-written blob, and two threads writing the same blob both end with it whole.
        tmp = f"{path}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- fsspec ---------------------------------------------------------------------------

    def _remote_path(self, digest: str) -> str:
        return f"{self._root}/{digest[:2]}/{digest}"

    def _put_remote(self, digest: str, data: bytes) -> None:
        # Always written: a stored copy of the same size may still be damaged (one
        # flipped byte), and comparing would download as much as the upload sends.
        fs = self._fs
        path = self._remote_path(digest)
        if self._atomic:
            fs.pipe_file(path, data)
            return
        folder = path.rsplit("/", 1)[0]
        if folder not in self._made_dirs:
            fs.makedirs(folder, exist_ok=True)
            self._made_dirs.add(folder)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)

    def _bucket_missing_text(self) -> str:
        bucket = self._root.split("/", 1)[0]
        return (
            f"the store's bucket {bucket!r} does not exist, or these credentials cannot "
            f"see it; create it (e.g. aws s3 mb s3://{bucket}) or fix the artifact_store "
            "path in the stack"
        )

    def _write_error(self, exc: OSError) -> ArtifactError:
        """One line for a failed write: the store, the reason, what to do."""
        where = _without_credentials(self._path) if not self._local else self._root
        why = exc.strerror or str(exc) or type(exc).__name__
        if exc.errno == errno.ENOSPC or "no space left" in why.lower():
            fix = (
                f"Free space on the disk holding {where}, or point the stack's "
                f"artifact_store somewhere with room, {_AGAIN}."
            )
        elif _bucket_missing(exc):
            return ArtifactError(
                f"Cannot write an artifact to the artifact store at {where}: "
                f"{self._bucket_missing_text()}, {_AGAIN}."
            )
        elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EROFS):
            fix = (
                f"Make {where} writable for this user (for an object store: check the "
                f"credentials in the artifact_store's storage_options), {_AGAIN}."
            )
        else:
            fix = f"Check the artifact store at {where}, {_AGAIN}."
        return ArtifactError(
            f"Cannot write an artifact to the artifact store at {where}: {why}. {fix}"
        )

    def _not_found(self, uri: str, why: str) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(
            f"No artifact bytes at {uri} ({why}; looked in the store at "
            f"{_without_credentials(self._path)}). The blob was deleted, or was written to "
            f"another artifact store. Re-run the step that produced it with --no-cache "
            f"(dockyard run ... --no-cache) to write it again."
        )


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _bucket_missing(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "bucket" in text and ("not exist" in text or "no such" in text)


def _sweep_stale_tmp(folder: str) -> None:
    """Remove ``*.tmp`` files in ``folder`` left by writers that died mid-write."""
    cutoff = time.time() - STALE_TMP_S
    try:
        entries = os.scandir(folder)
    except OSError:
        return
    with entries:
        for entry in entries:
            if not entry.name.endswith(".tmp"):
                continue
            with contextlib.suppress(OSError):  # another process swept it, or it is gone
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
