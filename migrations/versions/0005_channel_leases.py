"""Channel leases: several daemons (accounts) share one store, each channel processed by one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 10:00:00.000000

- ``channel_leases``: one row per chat ever leased: the daemon holding it (``owner``; null:
  free), the fencing ``epoch`` (grows with every new holder), and when it was taken, last
  renewed and expires (the database's clock);
- ``daemons``: one heartbeat row per running daemon (session, host, pid, expiry), from which
  every daemon counts how many share the channels.

Both tables are new: no table is copied, on SQLite either. Downgrading drops them; a daemon of
the older version ignores leases, so run only one daemon after a downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_leases",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_channel_leases")),
    )
    op.create_index(op.f("ix_channel_leases_owner"), "channel_leases", ["owner"])
    op.create_table(
        "daemons",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_daemons")),
    )


def downgrade() -> None:
    op.drop_table("daemons")
    op.drop_index(op.f("ix_channel_leases_owner"), table_name="channel_leases")
    op.drop_table("channel_leases")
