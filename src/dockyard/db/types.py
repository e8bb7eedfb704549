"""What every context's tables are declared with: the one ``MetaData`` and shared types.

Each bounded context declares its own tables in its own ``tables.py`` (``metadata``: runs,
steps, artifacts, lineage; ``registry``: model versions and aliases; ``rollout``:
deployments and rollout events) on :data:`METADATA`, so foreign keys may cross contexts
and one Alembic chain (``dockyard/db/migrations``) owns the whole schema. A context's
tables are imported only by its own SQL adapter (an import-linter contract checks it).

Tables are SQLAlchemy Core, never ORM classes: the ORM's import alone cost every CLI call
~70 ms. Times are stored in UTC and always read back timezone-aware.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "ID_LENGTH",
    "METADATA",
    "NAMING_CONVENTION",
    "JsonType",
    "UtcDateTime",
    "id_column",
    "stable_id",
    "time_column",
]

#: Length of every id column (uuid4 hex, sha256 prefix).
ID_LENGTH = 32


def stable_id(*parts: str) -> str:
    """A content-derived id: the same parts, the same id (``ID_LENGTH`` hex digits)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:ID_LENGTH]


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware.

    PostgreSQL keeps the zone (``timestamptz``); SQLite has no zone type, so the value is
    stored as naive UTC and tagged with UTC when read. A naive value given by a caller is
    taken as local time, as Python's own ``astimezone`` does.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")

# Constraint names are fixed so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The one ``MetaData`` every context's tables are declared on.
METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)


def id_column(name: str, *args: Any, nullable: bool = False, **kw: Any) -> sa.Column[str]:
    """An id column (``ID_LENGTH`` characters)."""
    return sa.Column(name, sa.String(ID_LENGTH), *args, nullable=nullable, **kw)


def time_column(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    """A UTC timestamp column."""
    return sa.Column(name, UtcDateTime(), nullable=nullable)
