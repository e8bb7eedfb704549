"""Which version answers a request: the I/O-free routing table of the gateway.

A :class:`RouteTable` is an immutable value: the controller builds a new one for every
change (a canary step, a promote, an abort) and hands it to the gateway through a
``table_provider`` callable, which the gateway calls once per request. A change therefore
takes effect on the very next request, and a request never sees half of a change.

Example::

    >>> table = RouteTable(
    ...     stable=Backend("3", "http://127.0.0.1:8001"),
    ...     candidate=Backend("4", "http://127.0.0.1:8002"),
    ...     weight=25,
    ...     sticky_header="x-user-id",
    ... )
    >>> table.choose("user-42").version in {"3", "4"}
    True
    >>> ref = RouteTableRef(table)       # a ready-made table_provider
    >>> ref().weight
    25.0
    >>> ref.update(weight=50).weight
    50.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import RolloutError

__all__ = ["Backend", "RouteTable", "RouteTableRef", "sticky_bucket"]

_SCALE = 100.0 / float(1 << 64)


def sticky_bucket(key: str, salt: str = "") -> float:
    """Map a sticky key (e.g. a user id) to a fixed point in ``[0, 100)``.

    The same key always lands on the same point, so comparing the point with the
    candidate's weight keeps a client on one version while the weight is unchanged, and
    moves it only from stable to candidate as the weight grows (never back).
    """
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


@dataclass(frozen=True, slots=True)
class Backend:
    """One model version behind the gateway.

    Args:
        version: The model version it serves, as shown in ``x-dockyard-backend``.
        url: Base URL of its HTTP service, e.g. ``http://127.0.0.1:8001``. The request
            path is appended to it unchanged.
        replicas: Base URLs of more processes serving the same version: requests go
            round-robin over ``url`` and these, and one a replica fails is retried on the
            next.
    """

    version: str
    url: str
    replicas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not str(self.version):
            raise RolloutError("A backend needs a version; got an empty string.")
        urls = [_base_url(self.version, u) for u in (self.url, *self.replicas)]
        object.__setattr__(self, "version", str(self.version))
        object.__setattr__(self, "url", urls[0])
        object.__setattr__(self, "replicas", tuple(urls[1:]))

    @property
    def urls(self) -> tuple[str, ...]:
        """Every process of this version: ``url`` first."""
        return (self.url, *self.replicas)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "url": self.url}
        if self.replicas:
            data["replicas"] = list(self.replicas)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backend:
        return cls(
            version=str(data["version"]),
            url=str(data["url"]),
            replicas=tuple(str(u) for u in data.get("replicas") or ()),
        )


def _base_url(version: object, value: object) -> str:
    url = str(value).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise RolloutError(
            f"Backend {version!r} has URL {value!r}; give a base URL that starts "
            "with http:// or https:// (e.g. http://127.0.0.1:8001)."
        )
    return url


def _percent(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RolloutError(f"{name} must be a number from 0 to 100; got {value!r}.") from None
    if not 0.0 <= number <= 100.0:
        raise RolloutError(f"{name} must be from 0 to 100 (percent); got {value!r}.")
    return number


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Where traffic goes: a stable version, optionally a candidate and a shadow.

    Args:
        stable: The version that answers whatever the candidate does not.
        candidate: The version being rolled out, or ``None``.
        weight: Percent of requests (0 to 100) for the candidate.
        shadow: A version that receives a copy of requests; its answers are recorded,
            never returned to clients.
        mirror_percent: Percent of requests (0 to 100) copied to the shadow.
        sticky_header: Request header (e.g. ``x-user-id``) whose value pins a client to
            one version by consistent hashing. Requests without it are split at random.
        failover: A request the chosen version fails (5xx, or no answer) is retried once
            on the other live version (candidate to stable, or stable to candidate).

    Raises:
        RolloutError: A percentage outside 0..100, or a weight without a candidate.
    """

    stable: Backend
    candidate: Backend | None = None
    weight: float = 0.0
    shadow: Backend | None = None
    mirror_percent: float = 0.0
    sticky_header: str | None = None
    failover: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.stable, Backend):
            raise RolloutError(f"RouteTable.stable must be a Backend; got {self.stable!r}.")
        weight = _percent("The candidate weight", self.weight)
        mirror = _percent("The mirror percent", self.mirror_percent)
        if self.candidate is None and weight > 0:
            raise RolloutError(
                f"A candidate weight of {weight:g}% was given without a candidate backend; "
                "set candidate= or use weight=0."
            )
        if self.shadow is None and mirror > 0:
            raise RolloutError(
                f"A mirror percent of {mirror:g}% was given without a shadow backend; "
                "set shadow= or use mirror_percent=0."
            )
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "mirror_percent", mirror)
        if self.sticky_header is not None:
            header = self.sticky_header.strip().lower()
            object.__setattr__(self, "sticky_header", header or None)

    def choose(self, request_key: str | None = None) -> Backend:
        """The backend for one request.

        Args:
            request_key: The sticky header's value when the table has a sticky header
                and the request carries it; ``None`` splits at random by weight.
        """
        candidate = self.candidate
        if candidate is None or self.weight <= 0.0:
            return self.stable
        if self.weight >= 100.0:
            return candidate
        if request_key is not None:
            # Salted by the candidate version, so successive rollouts do not always
            # send the same clients first; stable for the life of one candidate.
            point = sticky_bucket(request_key, candidate.version)
        else:
            point = random.random() * 100.0
        return candidate if point < self.weight else self.stable

    def should_mirror(self) -> bool:
        """Whether to copy this request to the shadow backend."""
        if self.shadow is None or self.mirror_percent <= 0.0:
            return False
        return self.mirror_percent >= 100.0 or random.random() * 100.0 < self.mirror_percent

    def fallback(self, failed: Backend) -> Backend | None:
        """Where to retry a request ``failed`` could not answer: the other live version
        taking traffic (never the shadow), or None."""
        if not self.failover:
            return None
        if failed == self.stable:
            return self.candidate if self.weight > 0 else None
        return self.stable

    def backends(self) -> tuple[Backend, ...]:
        """Every distinct backend of the table: stable, then candidate, then shadow."""
        seen: list[Backend] = []
        for backend in (self.stable, self.candidate, self.shadow):
            if backend is not None and backend not in seen:
                seen.append(backend)
        return tuple(seen)

    def replace(self, **changes: Any) -> RouteTable:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable.to_dict(),
            "candidate": self.candidate.to_dict() if self.candidate else None,
            "weight": self.weight,
            "shadow": self.shadow.to_dict() if self.shadow else None,
            "mirror_percent": self.mirror_percent,
            "sticky_header": self.sticky_header,
            "failover": self.failover,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouteTable:
        """Rebuild a table from :meth:`to_dict` output (e.g. a stored rollout state)."""
        try:
            candidate = data.get("candidate")
            shadow = data.get("shadow")
            return cls(
                stable=Backend.from_dict(data["stable"]),
                candidate=Backend.from_dict(candidate) if candidate else None,
                weight=data.get("weight", 0.0),
                shadow=Backend.from_dict(shadow) if shadow else None,
                mirror_percent=data.get("mirror_percent", 0.0),
                sticky_header=data.get("sticky_header"),
                failover=bool(data.get("failover", True)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise RolloutError(
                f"Not a route table: {dict(data)!r} ({exc!r}); it needs at least "
                '{"stable": {"version": ..., "url": ...}}.'
            ) from None


class RouteTableRef:
    """A thread-safe holder of the current table, usable as a gateway ``table_provider``.

    Calling it returns the current table; :meth:`set` and :meth:`update` swap in a new
    one atomically, which the gateway uses from its next request on.
    """

    __slots__ = ("_lock", "_table")

    def __init__(self, table: RouteTable) -> None:
        self._lock = threading.Lock()
        self._table = table

    def __call__(self) -> RouteTable:
        return self._table  # one attribute read: atomic, no lock needed

    def set(self, table: RouteTable) -> RouteTable:
        if not isinstance(table, RouteTable):
            raise RolloutError(f"Expected a RouteTable; got {type(table).__name__}.")
        with self._lock:
            self._table = table
        return table

    def update(self, **changes: Any) -> RouteTable:
        """Replace some fields of the current table, e.g. ``update(weight=50)``."""
        with self._lock:
            self._table = self._table.replace(**changes)
            return self._table
