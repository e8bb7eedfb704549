"""What the fsspec store adds to the contract: URIs, layout, flavor, no leaks."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from dockyard.artifacts import FsspecArtifactStore, content_hash


def test_local_uri_is_a_file_url_under_the_layout(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path))
    digest = content_hash(b"x")
    blob = store.put(b"x")
    assert blob.uri == (tmp_path / digest[:2] / digest).as_uri()
    assert (tmp_path / digest[:2] / digest).read_bytes() == b"x"
    assert store.flavor == "local"
    assert store.describe() == {"flavor": "local", "path": str(tmp_path)}


def test_file_url_path_is_local(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path.as_uri())
    assert store.flavor == "local"
    assert store.get(store.put(b"y").uri) == b"y"


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path))
    for i in range(20):
        store.put(f"{i}".encode())
        store.put(f"{i}".encode())
    names = [n for _, _, files in os.walk(tmp_path) for n in files]
    assert len(names) == 20
    assert not [n for n in names if n.endswith(".tmp")]


def test_a_moved_store_still_reads_its_uris(tmp_path: Path) -> None:
    """Content addressing: a step in a container sees the folder at another path."""
    blob = FsspecArtifactStore(str(tmp_path / "a")).put(b"portable")
    (tmp_path / "a").rename(tmp_path / "b")
    assert FsspecArtifactStore(str(tmp_path / "b")).get(blob.uri) == b"portable"


def test_remote_uri_and_describe_hide_credentials() -> None:
    store = FsspecArtifactStore(
        "memory://user:hunter2@dockyard-unit/art", storage_options={"secret": "hunter2"}
    )
    assert store.flavor == "fsspec"
    assert "hunter2" not in repr(store.describe()) + repr(store)
    blob = store.put(b"z")
    assert blob.uri.startswith("memory://")
    assert store.get(blob.uri) == b"z"


def test_store_pickles_for_remote_workers(tmp_path: Path) -> None:
    """Dask and process pools ship the store to workers."""
    store = FsspecArtifactStore(str(tmp_path))
    blob = store.put(b"shipped")
    assert pickle.loads(pickle.dumps(store)).get(blob.uri) == b"shipped"


def test_local_store_does_not_import_fsspec(tmp_path: Path) -> None:
    code = (
        "import sys; from dockyard.artifacts import FsspecArtifactStore as S;"
        f"s = S({str(tmp_path)!r}); s.get(s.put(b'a').uri);"
        "print(sorted(m for m in ('fsspec', 'numpy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
