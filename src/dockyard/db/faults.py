"""What a failed database call means for the user: one line, the database, and the fix.

SQLAlchemy reports a failure inside a statement as a ``DBAPIError`` whose text is the
driver's message plus the SQL and its parameters over several lines. :func:`explain`
turns it into one :class:`~dockyard.errors.MetadataError` line naming the database and
what to do; :func:`is_connection_error` says whether the failure was the connection
itself (worth a short retry: a restart, a dropped connection), not the request.

The kinds of failure told apart:

=================  ==========================================  =========================
kind               seen as                                      error
=================  ==========================================  =========================
connection lost    PostgreSQL restarted, ``pg_terminate_       MetadataUnavailableError
                   backend``, network gone                      (retried by idempotent
                                                                writes)
refused            nothing listening                            MetadataUnavailableError
locked             SQLite write lock held past busy_timeout     MetadataUnavailableError
disk full          ``SQLITE_FULL``, ``disk I/O error`` with     MetadataError
                   no space left, PostgreSQL ``53100``
disk failed        ``disk I/O error`` with space left           MetadataError
read-only          a read-only open, or file permissions        MetadataError
anything else      the driver's first line                      MetadataError
=================  ==========================================  =========================
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from dockyard.errors import MetadataError, MetadataUnavailableError

__all__ = ["Where", "explain", "is_connection_error", "reason"]

#: Below this much free space, a SQLite "disk I/O error" is taken for a full disk.
_LOW_SPACE_BYTES = 16 * 1024 * 1024
_RESUME = "then try again (a pipeline run resumes from the cache)"
_CONNECTION_WORDS = (
    "connection refused",
    "could not connect",
    "connection failed",
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "connection already closed",
    "consuming input failed",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "ssl syscall error",
    "broken pipe",
    "connection reset",
)
# SQLSTATE classes and codes of a connection that is gone or not yet back.
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")


@dataclass(frozen=True, slots=True)
class Where:
    """The database an error is about, as the user knows it."""

    url: str  #: the URL, password masked
    dialect: str
    #: the SQLite file (None for PostgreSQL and in-memory databases)
    path: str | None = None
    busy_timeout_s: float = 30.0
    readonly_why: str | None = None


def reason(exc: BaseException) -> str:
    """The driver's one-line reason ("connection refused", "database is locked")."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    if not lines:
        return type(orig).__name__
    for line in lines:
        if "refused" in line.lower():
            return "connection refused"
    return lines[0].rstrip(".")


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def is_connection_error(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the connection failing (gone, refused, restarting): a failure a
    short retry may outlive. A lock, a full disk or a bad statement is not."""
    if exc is None:
        return False
    if getattr(exc, "connection_invalidated", False):
        return True
    state = _sqlstate(exc)
    if state and state.startswith(_CONNECTION_STATES):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(word in text for word in _CONNECTION_WORDS)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _free_space(path: str) -> tuple[str, int | None]:
    """The folder holding ``path`` and the bytes free on its disk (None if unknown)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        return folder, shutil.disk_usage(folder).free
    except OSError:
        return folder, None


def explain(exc: BaseException, where: Where, *, connecting: bool = False) -> MetadataError:
    """The one-line dockyard error for a failed database call.

    Args:
        exc: what SQLAlchemy or the driver raised.
        where: the database it was raised for.
        connecting: it was raised while opening a connection (or the database), where
            anything unexplained means "cannot reach" rather than "a statement failed".
    """
    why = reason(exc)
    text = why.lower()
    url = where.url
    if "locked" in text or "database is busy" in text:
        return MetadataUnavailableError(
            f"The metadata database at {url} is locked: another process held its write "
            f"lock for more than {where.busy_timeout_s:g} s. Wait for that process to "
            "finish (or stop it), then try again; to wait longer, raise busy_timeout_s "
            "in the stack's metadata_store."
        )
    if "readonly" in text or "read-only" in text:
        holder = os.path.dirname(where.path) if where.path else "the database"
        return MetadataError(
            f"Cannot write to the metadata database at {url}: it is open read-only "
            f"({where.readonly_why or why}). This command needs to write: run it as a "
            f"user who can write to {holder}."
        )
    if where.dialect == "postgresql" and (_sqlstate(exc) == "53100" or "no space left" in text):
        return MetadataError(
            f"The PostgreSQL server of the metadata database at {url} is out of disk "
            f"space: {why}. Free space on the database server, {_RESUME}."
        )
    if where.path is not None and ("disk is full" in text or "disk i/o error" in text):
        folder, free = _free_space(where.path)
        shown = "unknown space" if free is None else _size(free)
        if "disk is full" in text or (free is not None and free < _LOW_SPACE_BYTES):
            return MetadataError(
                f"Cannot write to the metadata database at {url}: {why}, the disk holding "
                f"{folder} is full ({shown} free). Free some space there, {_RESUME}."
            )
        return MetadataError(
            f"Cannot read or write the metadata database at {url}: {why} ({shown} free "
            f"on the disk holding {folder}). Check that disk (a failing disk, a network "
            f"mount that went away), {_RESUME}."
        )
    if connecting:
        if where.dialect == "postgresql":
            fix = (
                "Check that PostgreSQL is running and the URL in the stack's "
                "metadata_store is right."
            )
        else:
            fix = "Check the URL in the stack's metadata_store and that the file is writable."
        return MetadataUnavailableError(
            f"Cannot reach the metadata database at {url}: {why}. {fix}"
        )
    if is_connection_error(exc):
        return MetadataUnavailableError(
            f"Lost the connection to the metadata database at {url}: {why}. Check that "
            f"the database server is running and reachable, {_RESUME}."
        )
    if where.dialect == "postgresql":
        fix = "Check the PostgreSQL server's log"
    elif where.path is not None:
        fix = f"Check the file {where.path}"
    else:
        fix = "Check the database"
    return MetadataError(f"The metadata database at {url} failed: {why}. {fix}, {_RESUME}.")
