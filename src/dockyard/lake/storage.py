"""Plain file access under a lake's URL: ``os`` calls for a local folder, fsspec for
anything with a protocol (``s3://...``). File datasets and listings use it; Delta tables
go through delta-rs's own client.

Failures of the storage itself (refused connection, refused credentials, missing bucket)
become one-line :class:`~dockyard.errors.LakeUnavailableError`\\ s naming the URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import IO, Any

from dockyard.errors import LakeError, LakeUnavailableError

__all__ = ["Storage", "display_url", "is_local", "storage_failure"]


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


class Storage:
    """Files under ``root`` (a local absolute path or an fsspec URL)."""

    def __init__(
        self, root: str, options: dict[str, Any] | None = None, endpoint: str | None = None
    ) -> None:
        self.root = root.rstrip("/")
        self.endpoint = endpoint
        self.local = is_local(root)
        self._options = dict(options or {})
        self._fs_obj: Any = None

    @property
    def _fs(self) -> Any:
        if self._fs_obj is None:
            from fsspec.core import url_to_fs

            self._fs_obj, _ = url_to_fs(self.root, **self._options)
        return self._fs_obj

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, FileExistsError, LakeError):
            raise
        except Exception as exc:
            raise storage_failure(self.root, exc, what, self.endpoint) from exc

    def read_bytes(self, path: str) -> bytes:
        with self._errors(f"read {path}"):
            if self.local:
                with open(path, "rb") as f:
                    return f.read()
            return bytes(self._fs.cat_file(path))

    def open(self, path: str) -> IO[bytes]:
        with self._errors(f"open {path}"):
            if self.local:
                return open(path, "rb")
            return self._fs.open(path, "rb")  # type: ignore[no-any-return]

    def exists(self, path: str) -> bool:
        with self._errors(f"look for {path}"):
            if self.local:
                return os.path.exists(path)
            return bool(self._fs.exists(path))

    def listdir(self, path: str) -> list[str]:
        """Names of the folders directly under ``path`` (none when it is missing)."""
        return self._names(path, "directory")

    def listfiles(self, path: str) -> list[str]:
        """Names of the files directly under ``path`` (none when it is missing)."""
        return self._names(path, "file")

    def _names(self, path: str, kind: str) -> list[str]:
        with self._errors(f"list {path}"):
            if self.local:
                wanted = os.DirEntry.is_dir if kind == "directory" else os.DirEntry.is_file
                try:
                    return sorted(e.name for e in os.scandir(path) if wanted(e))
                except (FileNotFoundError, NotADirectoryError):
                    return []
            try:
                entries = self._fs.ls(path, detail=True, refresh=True)
            except FileNotFoundError:
                return []
            return sorted(
                str(e["name"]).rstrip("/").rsplit("/", 1)[-1]
                for e in entries
                if e.get("type") == kind
            )

    def upload(self, source: str, path: str) -> None:
        """Copy the local file ``source`` to ``path`` (whole or not at all)."""
        with self._errors(f"write {path}"):
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
                try:
                    shutil.copyfile(source, tmp)
                    os.replace(tmp, path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise
                return
            self._fs.put_file(source, path)  # an object store shows an object whole

    def create(self, path: str, data: bytes) -> bool:
        """Write ``path`` only if it does not exist yet; False when another writer won
        (a local hard link and S3's ``If-None-Match: *`` are both atomic)."""
        with self._errors(f"write {path}"):
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
                finally:
                    os.unlink(tmp)
                return True
            try:
                self._fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            except OSError as exc:
                if "precondition" in str(exc).lower() or "412" in str(exc):
                    return False
                raise
            return True


def storage_failure(
    url: str, exc: BaseException, what: str, endpoint: str | None = None
) -> LakeError:
    """One line for a storage failure: which lake, what was refused, what to do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    where = display_url(url) + (f" (endpoint {endpoint})" if endpoint else "")
    if any(
        s in low
        for s in ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "forbidden", "403")
    ) or isinstance(exc, PermissionError):
        return LakeUnavailableError(
            f"The lake at {where} refused the credentials (access denied) while trying to "
            f"{what}. Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the storage_options "
            "of the stack's lake."
        )
    if "nosuchbucket" in low or ("bucket" in low and "not exist" in low):
        bucket = display_url(url).split("://", 1)[-1].split("/", 1)[0]
        return LakeUnavailableError(
            f"The lake's bucket {bucket!r} ({where}) does not exist or these credentials "
            f"cannot see it; create it (aws s3 mb s3://{bucket}) or fix the lake's path."
        )
    if any(
        s in low
        for s in (
            "connection refused",
            "connect",
            "error sending request",
            "timed out",
            "timeout",
            "dns",
            "name or service not known",
        )
    ):
        return LakeUnavailableError(
            f"Cannot reach the lake at {where} to {what}: the storage endpoint does not "
            "answer. Check that it is up and the endpoint is right (AWS_ENDPOINT_URL or "
            "the storage_options of the stack's lake)."
        )
    short = text if len(text) <= 300 else text[:297] + "..."
    return LakeError(f"The lake at {where} could not {what}: {short}")


def display_url(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host, sep, tail = rest.partition("/")
    return f"{scheme}://{host.rsplit('@', 1)[-1]}{sep}{tail}"
