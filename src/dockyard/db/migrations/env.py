"""Alembic environment of dockyard's database, driven from code, never from a CLI.

:func:`dockyard.db.migrate.upgrade_schema` builds the Alembic ``Config`` in code
and passes an open connection in ``config.attributes["connection"]``; this module runs the
migrations on it. On PostgreSQL a transaction-scoped advisory lock makes concurrent
openers take turns: the second one finds the schema already at head and does nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from dockyard.db.types import METADATA

#: Arbitrary but fixed key of the advisory lock ("dockyard" in ASCII, as an int64).
_PG_LOCK_KEY = 0x646F636B79617264


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only reached when misused from a CLI
        raise RuntimeError(
            "dockyard's migrations run from code: use "
            "dockyard.db.Database(url), not the alembic CLI."
        )
    context.configure(
        connection=connection,
        # The tables of every context are declared on METADATA by their own ``tables``
        # modules; the revisions spell out their operations, so they are not imported here.
        target_metadata=METADATA,
        # SQLite cannot ALTER most things; batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - offline SQL scripts are not supported
    raise RuntimeError("dockyard's migrations run online only.")
run_migrations_online()
