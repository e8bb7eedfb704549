"""The one Alembic migration chain of dockyard's database, driven from code.

The schema of every context (metadata, registry, rollout, ...) is owned by the revisions
in ``dockyard/db/migrations/versions``, chained by ``down_revision``; **each revision
touches one context's tables**. On open, :class:`~dockyard.db.Database` reads
``alembic_version`` with a plain query: at :data:`HEAD_REVISION` it does nothing more
(Alembic is not even imported). An empty or older database is upgraded to head; a
revision this dockyard does not know (a newer dockyard wrote it) raises
:class:`~dockyard.errors.SchemaVersionError`.

Adding a migration (e.g. ``0007`` for a context's new table):

1. Change or add the tables in that context's ``tables.py``.
2. Add ``migrations/versions/0007_<what>.py`` with ``revision = "0007"`` and
   ``down_revision = "0006"``. Write the operations out (``op.create_table``,
   ``op.add_column``...); on SQLite wrap column changes in ``op.batch_alter_table``.
   The file name starts with the revision id. To draft the operations, run
   ``alembic.autogenerate.produce_migrations`` against a database at the previous head
   with every context's ``tables`` module imported.
3. Set :data:`HEAD_REVISION` below to ``"0007"``.
4. The tests check that :data:`HEAD_REVISION` is Alembic's head, that an upgraded empty
   database matches the tables exactly, and that a database at every earlier revision
   upgrades with its data intact.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dockyard.errors import SchemaVersionError

__all__ = [
    "HEAD_REVISION",
    "MIGRATIONS_DIR",
    "alembic_config",
    "known_revisions",
    "read_revisions",
    "upgrade_schema",
]

#: The newest schema revision this dockyard knows (the last file in migrations/versions).
HEAD_REVISION = "0010"
#: Where the Alembic scripts live (``env.py`` and ``versions/``).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_MIGRATION_LOCK = threading.Lock()


def read_revisions(conn: sa.Connection) -> list[str]:
    """The revisions stamped in ``alembic_version`` ([] for an empty database)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """An Alembic ``Config`` built in code (no alembic.ini), bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    """Every revision id in the migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def upgrade_schema(engine: sa.Engine, display_url: str = "") -> None:
    """Bring the database to :data:`HEAD_REVISION`, or refuse one from a newer dockyard.

    Raises:
        SchemaVersionError: the database carries a revision these migrations do not know.
    """
    from alembic import command

    # Alembic keeps its migration context in module globals: one upgrade at a time per
    # process. Across processes, the database's own lock does the same (see env.py).
    with _MIGRATION_LOCK, engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock first so concurrent openers migrate one at a time; the
            # later ones then find the schema at head and do nothing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        current = read_revisions(conn)
        if current == [HEAD_REVISION]:
            conn.rollback()
            return
        unknown = sorted(set(current) - known_revisions())
        if unknown:
            conn.rollback()
            where = f" at {display_url}" if display_url else ""
            raise SchemaVersionError(
                f"The metadata database{where} is at schema revision {', '.join(unknown)}, "
                f"newer than this dockyard knows (newest known: {HEAD_REVISION}); a newer "
                "dockyard wrote it. Upgrade dockyard (pip install -U dockyard)."
            )
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
