"""Registry: the high-water mark of each model's version numbers.

Revision ID: 0006
Revises: 0005

Numbering a new version as ``max(version) + 1`` reused the number of a deleted latest
version, so a pinned reference (``churn:26``) could come to name another model. Table
``model_names`` keeps the last number given per model, never lowered by a delete; it is
backfilled here from the versions already recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "model_names",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_model_names"),
    )
    op.execute(
        "INSERT INTO model_names (name, last_version) "
        "SELECT name, MAX(version) FROM model_versions GROUP BY name"
    )


def downgrade() -> None:
    op.drop_table("model_names")
