"""The data lake: versioned datasets in zones (raw, curated, features, predictions).

Tables are Delta Lake tables (``deltalake``); file datasets are versioned listings over
content-addressed objects. The lake is a stack component (kind ``lake``, flavors in the
``dockyard.lakes`` entry-point group)::

    import dockyard.lake

    lake = dockyard.lake.open()                        # the active stack's lake
    version = lake.write("raw/customers", df)
    table = lake.read("raw/customers", filters=[("region", "=", "EU")])
    ref = dockyard.lake.parse_ref("lake://raw/customers@3")

Names are re-exported lazily: importing this package imports neither deltalake nor pyarrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.lake.api import open, ref
    from dockyard.lake.base import Lake
    from dockyard.lake.records import DatasetDescription, DatasetInfo, DatasetVersion, FileEntry
    from dockyard.lake.refs import DEFAULT_ZONES, DatasetRef, parse_ref

_EXPORTS = {
    "open": "api",
    "ref": "api",
    "Lake": "base",
    "DatasetDescription": "records",
    "DatasetInfo": "records",
    "DatasetVersion": "records",
    "FileEntry": "records",
    "DEFAULT_ZONES": "refs",
    "DatasetRef": "refs",
    "parse_ref": "refs",
}

__all__ = [
    "DEFAULT_ZONES",
    "DatasetDescription",
    "DatasetInfo",
    "DatasetRef",
    "DatasetVersion",
    "FileEntry",
    "Lake",
    "open",
    "parse_ref",
    "ref",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.lake' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.lake.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
