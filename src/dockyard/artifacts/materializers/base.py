"""The Materializer port: turn a Python value into bytes and back.

A materializer says which values it handles through ``type_names``: fully qualified
names of classes matched against the value's MRO, so the check never imports pandas or
numpy just to ask. The most specific match wins (the earlier class in the MRO), then the
higher ``priority``.

Example::

    class CsvTextMaterializer(Materializer):
        name = "csv-text"
        version = "1"
        type_names = ("mypkg.table.Table",)

        def save(self, obj):
            return obj.to_csv().encode()

        def load(self, data, data_type):
            from mypkg.table import Table
            return Table.from_csv(data.decode())

Register it under the ``dockyard.materializers`` entry point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class, as materializers match it."""
    return f"{cls.__module__}.{cls.__qualname__}"


class Materializer(ABC):
    """Serializer for one family of types."""

    name: ClassVar[str]
    #: Bumped when the byte format changes; part of every step's cache key.
    version: ClassVar[str] = "1"
    #: Fully qualified class names this materializer saves (matched along the MRO).
    type_names: ClassVar[tuple[str, ...]] = ()
    #: Tie-breaker between materializers matching at the same MRO position.
    priority: ClassVar[int] = 0
    #: Loading may run arbitrary code (pickle): needs ``trust_pickle`` outside the writer.
    unsafe: ClassVar[bool] = False

    def can_save(self, obj: Any) -> bool:
        """Extra check after the type matched (e.g. JSON-serialisable contents)."""
        return True

    @abstractmethod
    def save(self, obj: Any) -> bytes:
        """Serialise ``obj`` to bytes."""

    @abstractmethod
    def load(self, data: bytes, data_type: str) -> Any:
        """Rebuild the value from ``data``; ``data_type`` is the saved value's class name."""
