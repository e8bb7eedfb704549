"""Dataset names (``ZONE/NAME``) and references (``lake://zone/name[@version]``).

Pure functions, no I/O::

    check_name("curated/customers", DEFAULT_ZONES)     # -> ("curated", "customers")
    parse_ref("lake://curated/customers@3")            # DatasetRef("curated/customers", 3)
    parse_ref("raw/images")                            # DatasetRef("raw/images", None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import LakeError

__all__ = ["DEFAULT_ZONES", "SCHEME", "DatasetRef", "check_name", "check_zones", "parse_ref"]

#: The zones of a lake unless its stack config lists others (``zones: [...]``).
DEFAULT_ZONES: tuple[str, ...] = ("raw", "curated", "features", "predictions")
SCHEME = "lake://"

# One path segment: safe as a folder name on every filesystem and object store; it never
# starts with "_" or "." (the lake's own folders: _objects, _delta_log, _files).
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_REF = re.compile(r"(?P<name>[^@]+?)(?:@(?P<version>[^@]*))?")


@dataclass(frozen=True)
class DatasetRef:
    """A dataset, and a version of it or ``None`` for its latest.

    ``str(ref)`` is the ``lake://`` form, which :func:`parse_ref` reads back.
    """

    name: str
    version: int | None = None

    @property
    def zone(self) -> str:
        return self.name.split("/", 1)[0]

    def __str__(self) -> str:
        pinned = "" if self.version is None else f"@{self.version}"
        return f"{SCHEME}{self.name}{pinned}"


def check_zones(zones: Sequence[str] | None) -> tuple[str, ...]:
    """The zones a lake is configured with (default :data:`DEFAULT_ZONES`)."""
    if zones is None:
        return DEFAULT_ZONES
    if isinstance(zones, str) or not zones:
        raise LakeError(
            f"The lake's zones must be a non-empty list of names, got {zones!r}; "
            "e.g. zones: [raw, curated, features, predictions] in the stack's lake."
        )
    out = tuple(str(z) for z in zones)
    for zone in out:
        if not _SEGMENT.fullmatch(zone):
            raise LakeError(
                f"Bad lake zone name {zone!r}: use letters, digits, '_', '.', '-', "
                "starting with a letter or digit."
            )
    return out


def check_name(name: str, zones: Sequence[str] = DEFAULT_ZONES) -> tuple[str, str]:
    """Split a dataset name into ``(zone, name)``, or say what is wrong with it.

    Raises:
        LakeError: not ``ZONE/NAME``, a zone the lake does not have (the zones are
            named), or characters a folder cannot hold.
    """
    if not isinstance(name, str) or name.count("/") != 1:
        raise LakeError(
            f"Bad dataset name {name!r}: datasets are named ZONE/NAME, e.g. curated/customers "
            f"(zones: {', '.join(zones)})."
        )
    zone, short = name.split("/")
    if zone not in zones:
        raise LakeError(
            f"Unknown lake zone {zone!r} in dataset {name!r}. Zones: {', '.join(zones)} "
            "(set zones: [...] in the stack's lake config to change them)."
        )
    if not _SEGMENT.fullmatch(short):
        raise LakeError(
            f"Bad dataset name {short!r} in {name!r}: use letters, digits, '_', '.', '-' "
            "(at most 128), starting with a letter or digit."
        )
    return zone, short


def parse_ref(text: str) -> DatasetRef:
    """Read ``lake://zone/name``, ``lake://zone/name@3`` or ``zone/name[@3]``.

    Only the shape is checked here; the lake checks the zone (its zones are configured).

    Raises:
        LakeError: not of that shape, or a version that is not a whole number >= 0.
    """
    raw = text.strip() if isinstance(text, str) else text
    if not isinstance(raw, str):
        raise LakeError(f"A dataset reference is text like lake://curated/customers, got {text!r}.")
    body = raw.removeprefix(SCHEME)
    match = _REF.fullmatch(body)
    if match is None or match["name"].count("/") != 1:
        raise LakeError(
            f"Bad dataset reference {text!r}: write lake://ZONE/NAME or lake://ZONE/NAME@VERSION "
            "(e.g. lake://curated/customers@3)."
        )
    version_text = match["version"]
    version: int | None = None
    if version_text is not None:
        if not version_text.isdigit():
            raise LakeError(
                f"Bad version {version_text!r} in dataset reference {text!r}: a version is a "
                "whole number >= 0 (see dockyard lake history NAME)."
            )
        version = int(version_text)
    name = match["name"]
    zone, short = name.split("/")
    if not zone or not short:
        raise LakeError(f"Bad dataset reference {text!r}: write lake://ZONE/NAME[@VERSION].")
    return DatasetRef(name, version)
