"""Dask clusters, shared by the contexts that send work to one (batch scoring, the ``dask``
orchestrator): a ``LocalCluster`` of worker processes, or a running scheduler checked
reachable before any work, and whether a scheduler's workers see this machine's disk.

Imported only when Dask is used; ``dask.distributed`` itself is imported inside the calls.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dockyard.errors import DockyardError

__all__ = ["import_distributed", "is_remote", "open_client"]

DASK_EXTRA = "pip install 'dockyard[dask]'"


def import_distributed(error: type[DockyardError], what: str) -> Any:
    """``dask.distributed``, or ``error`` naming the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise error(
            f"{what} needs dask.distributed, which is not installed: {DASK_EXTRA}."
        ) from exc
    return distributed


def is_remote(address: str | None) -> bool:
    """Whether the scheduler at ``address`` (``tcp://HOST:PORT``) is on another machine,
    whose workers see other disks; None (a LocalCluster) is local."""
    if address is None:
        return False
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


@contextmanager
def open_client(
    address: str | None,
    *,
    workers: int = 2,
    threads_per_worker: int = 1,
    error: type[DockyardError],
    unreachable: type[DockyardError],
    fix: str,
    what: str,
    timeout_s: float = 5.0,
    shown: str | None = None,
) -> Iterator[Any]:
    """A client of a ``LocalCluster`` started for the block (``address`` None: worker
    processes on 127.0.0.1, no dashboard), or of the scheduler at ``address``.

    Raises:
        error: ``dask.distributed`` is not installed (the message names the extra).
        unreachable: the scheduler did not answer within ``timeout_s``; ``fix`` ends the
            message, which names the scheduler as ``shown`` (default: ``address``).
    """
    dist = import_distributed(error, what)
    if address is None:
        cluster = dist.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # The scheduler's HTTP routes (health, metrics) on a free port: its default,
            # 8787, warns when taken (by another cluster of this machine).
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        try:
            with dist.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = dist.Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError) as exc:
        raise unreachable(
            f"Cannot reach the Dask scheduler at {shown or address}: {exc}. {fix}"
        ) from exc
    try:
        yield client
    finally:
        client.close()
