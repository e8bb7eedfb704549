"""What every context's SQL adapter shares: the database it runs on, and its lifecycle.

A context's store (``SqlRegistryStore``, ``SqlDeploymentStore``, ...) subclasses
:class:`SqlStore` first, then its own port::

    class SqlBatchStore(SqlStore, BatchStore): ...

It takes the stack's shared :class:`~dockyard.db.Database` (one engine, transactions
that span contexts), or a URL to open a database for itself alone, which it then closes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dockyard.db.engine import Database

__all__ = ["SqlStore"]


class SqlStore:
    """A store over a :class:`~dockyard.db.Database`.

    Args:
        database: the shared database, or a URL to open one for this store alone.
        **options: database options when ``database`` is a URL.
    """

    flavor: ClassVar[str] = "sql"

    def __init__(self, database: Database | str, **options: Any) -> None:
        self._owns_database = not isinstance(database, Database)
        self.database = (
            database if isinstance(database, Database) else Database(database, **options)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.database.url!r})"

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, **self.database.describe()}

    def close(self) -> None:
        """Close the database if this store opened it (a shared one stays open)."""
        if self._owns_database:
            self.database.close()
