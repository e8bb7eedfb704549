"""Tables of the model registry: model versions and aliases (migration 0002).

::

    model_versions  (name, version)   a registered model: its artifact, producing run and
                                      step, metrics, signature, library requirements
    model_aliases   (name, alias)     -> version; one version per alias per model
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.metadata.models import ID_LENGTH, Base


class ModelVersion(Base):
    __tablename__ = "model_versions"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    artifact_id: Mapped[str] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("artifacts.id", ondelete="RESTRICT")
    )
    run_id: Mapped[str | None] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("runs.id", ondelete="SET NULL")
    )
    step: Mapped[str | None] = mapped_column(sa.String(255))
    metrics: Mapped[dict[str, Any]]
    signature: Mapped[dict[str, Any] | None]
    requirements: Mapped[dict[str, Any]]
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]


class ModelAlias(Base):
    __tablename__ = "model_aliases"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    alias: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime]

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            ondelete="RESTRICT",
        ),
    )
