"""Tables of the registry context: model versions and aliases (migrations 0002, 0006).

Imported only by :mod:`dockyard.registry.sql_store` (an import-linter contract checks
it). Foreign keys point at the metadata context's ``artifacts`` and ``runs`` by name;
nothing here imports that context's tables.

::

    model_versions  (name, version)   a registered model: its artifact, producing run and
                                      step, metrics, signature, library requirements
    model_aliases   (name, alias)     -> version; one version per alias per model
    model_names     name              the last version number given; never lowered, so a
                                      deleted version's number is never given again
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import ID_LENGTH, METADATA, JsonType, UtcDateTime

__all__ = ["model_aliases", "model_names", "model_versions"]

model_versions = sa.Table(
    "model_versions",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column(
        "artifact_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey("artifacts.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column(
        "run_id", sa.String(ID_LENGTH), sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("step", sa.String(255), nullable=True),
    sa.Column("metrics", JsonType, nullable=False),
    sa.Column("signature", JsonType, nullable=True),
    sa.Column("requirements", JsonType, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

model_aliases = sa.Table(
    "model_aliases",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="RESTRICT",
    ),
)

model_names = sa.Table(
    "model_names",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("last_version", sa.Integer, nullable=False),
)
