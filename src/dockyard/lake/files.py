"""File datasets: versioned, immutable listings over content-addressed objects.

Layout under the lake's root::

    _objects/ab/ab12...ef                       every file's bytes, named by SHA-256
    raw/images/_files/00000000000000000000.json version 0's listing
    raw/images/_files/00000000000000000001.json version 1's listing

A listing is a small JSON document (path, size, sha256, content type of each file), written
once with an exclusive create, so two writers never both get one version: the loser reads
the winner's listing and tries the next number. An unchanged file is uploaded once, whatever
the number of versions naming it.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Iterable
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import IO, Any

from dockyard.errors import DatasetNotFoundError, LakeError
from dockyard.lake.records import DatasetVersion, FileEntry
from dockyard.lake.storage import Storage

__all__ = ["FILES_DIR", "OBJECTS_DIR", "FileDatasets", "version_ranges"]

FILES_DIR = "_files"
OBJECTS_DIR = "_objects"
_FORMAT = 1
_CHUNK = 1 << 20
_MAX_TRIES = 20


class FileDatasets:
    """File datasets under ``storage``; names are checked by the caller (the lake)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- listings -----------------------------------------------------------------------

    def _folder(self, name: str) -> str:
        return self.storage.path(name, FILES_DIR)

    def _listing_path(self, name: str, version: int) -> str:
        return f"{self._folder(name)}/{version:020d}.json"

    def versions(self, name: str) -> list[int]:
        """Every version of file dataset ``name``, oldest first (empty: not one)."""
        return sorted(
            int(f[:-5])
            for f in self.storage.listfiles(self._folder(name))
            if f.endswith(".json") and f[:-5].isdigit()
        )

    def exists(self, name: str) -> bool:
        return bool(self.versions(name))

    def _manifest(self, name: str, version: int | None) -> dict[str, Any]:
        versions = self.versions(name)
        if not versions:
            raise DatasetNotFoundError(
                f"No file dataset {name!r} in the lake at {self.storage.root}; add files with "
                f"lake.put_files({name!r}, PATHS) (dockyard lake ls lists the datasets)."
            )
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise DatasetNotFoundError(
                f"File dataset {name!r} has no version {version}; its versions are "
                f"{_ranges(versions)}."
            )
        data = self.storage.read_bytes(self._listing_path(name, version))
        manifest: dict[str, Any] = json.loads(data)
        return manifest

    def files(self, name: str, version: int | None = None) -> list[FileEntry]:
        manifest = self._manifest(name, version)
        return [FileEntry(**entry) for entry in manifest["files"]]

    def history(self, name: str) -> list[DatasetVersion]:
        out = []
        for version in self.versions(name):
            manifest = self._manifest(name, version)
            out.append(
                DatasetVersion(
                    version=version,
                    timestamp=datetime.fromisoformat(manifest["created"]),
                    operation="PUT FILES",
                    rows_added=int(manifest.get("added", 0)),
                    parameters={"files": str(len(manifest["files"]))},
                )
            )
        return out

    # -- writing ------------------------------------------------------------------------

    def put(
        self,
        name: str,
        paths: str | PathLike[str] | Iterable[str | PathLike[str]],
        *,
        replace: bool = False,
    ) -> int:
        found = _collect(paths)
        entries: dict[str, FileEntry] = {}
        for rel, local in found.items():
            digest, size = _hash_file(local)
            entries[rel] = FileEntry(rel, size, digest, _content_type(rel))
            target = self._object_path(digest)
            if not self.storage.exists(target):
                self.storage.upload(str(local), target)
        for _ in range(_MAX_TRIES):
            versions = self.versions(name)
            previous: dict[str, FileEntry] = {}
            if versions and not replace:
                previous = {f.path: f for f in self.files(name, versions[-1])}
            added = sum(1 for rel, e in entries.items() if previous.get(rel) != e)
            listing = {**previous, **entries}
            version = versions[-1] + 1 if versions else 0
            manifest = {
                "format": _FORMAT,
                "version": version,
                "created": datetime.now(UTC).isoformat(),
                "added": added,
                "files": [vars(listing[p]) for p in sorted(listing)],
            }
            body = json.dumps(manifest, indent=1, sort_keys=True).encode()
            if self.storage.create(self._listing_path(name, version), body):
                return version
        raise LakeError(
            f"Could not add a version to file dataset {name!r}: {_MAX_TRIES} other writers "
            "committed first. Try again."
        )

    # -- reading ------------------------------------------------------------------------

    def _object_path(self, digest: str) -> str:
        return self.storage.path(OBJECTS_DIR, digest[:2], digest)

    def open(self, name: str, path: str, version: int | None = None) -> IO[bytes]:
        manifest = self._manifest(name, version)
        for entry in manifest["files"]:
            if entry["path"] == path:
                try:
                    return self.storage.open(self._object_path(entry["sha256"]))
                except FileNotFoundError:
                    raise DatasetNotFoundError(
                        f"The bytes of {path!r} in file dataset {name!r} (sha256 "
                        f"{entry['sha256'][:12]}...) are missing from the lake's "
                        f"{OBJECTS_DIR}/ folder; put the file again with lake.put_files."
                    ) from None
        listed = [e["path"] for e in manifest["files"]]
        preview = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
        raise DatasetNotFoundError(
            f"No file {path!r} in version {manifest['version']} of file dataset {name!r}; "
            f"it lists {len(listed)} files: {preview or 'none'}."
        )


def _collect(paths: str | PathLike[str] | Iterable[str | PathLike[str]]) -> dict[str, Path]:
    """``{path in the dataset: local file}``: a folder's files relative to the folder, a
    file under its own name."""
    items = [paths] if isinstance(paths, str | PathLike) else list(paths)
    found: dict[str, Path] = {}
    for item in items:
        local = Path(item)
        if local.is_dir():
            pairs = [
                (p.relative_to(local).as_posix(), p)
                for p in sorted(local.rglob("*"))
                if p.is_file() and not p.name.startswith(".")
            ]
        elif local.is_file():
            pairs = [(local.name, local)]
        else:
            raise LakeError(f"Cannot add {str(local)!r} to a file dataset: no such file or folder.")
        for rel, path in pairs:
            if rel in found and found[rel] != path:
                raise LakeError(
                    f"Two files would have the path {rel!r} in the dataset ({found[rel]} and "
                    f"{path}); put them in separate calls or folders."
                )
            found[rel] = path
    if not found:
        raise LakeError(f"No files to add: {[str(i) for i in items]} holds no files.")
    return found


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def _ranges(versions: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``0-2, 5`` (histories can be long)."""
    out: list[str] = []
    start = prev = versions[0]
    for v in [*versions[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(out)


def version_ranges(versions: list[int]) -> str:
    """Public to the lake's adapters: the same compact text for table versions."""
    return _ranges(versions) if versions else "none"
