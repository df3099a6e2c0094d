"""Telegram: the allow-list, sessions in the database, cursors, flood waits, alert deliveries;
sightings of media that was not hashed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000

SQLite cannot make ``sightings.media_id`` nullable in place: the table is copied and swapped
(Alembic batch mode). Dropping the old table would delete every hit through
``hits.sighting_id ON DELETE CASCADE`` (foreign keys are on, and cannot be switched off inside
the migration's transaction), so the hits are set aside first and put back afterwards, ids
unchanged. ``audit_log`` is not touched (recreating it would drop its append-only triggers).

Downgrading deletes the sightings without media (media seen but never hashed) and every row of
the new tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

CHANNEL_STATES = (
    "pending",
    "active",
    "invite_valid",
    "needs_approval",
    "invite_expired",
    "not_found",
    "private",
    "gone",
    "flood_wait",
    "error",
)
SIGHTING_COLUMNS = ("skip_reason", "skip_detail", "file_size", "mime_type")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    # --- channels: the per-channel cursor ----------------------------------------------------
    op.add_column(
        "channels",
        sa.Column("cursor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("channels", sa.Column("last_message_at", sa.DateTime(timezone=True)))
    op.add_column("channels", sa.Column("last_reconciled_at", sa.DateTime(timezone=True)))

    # --- media: every query variant ----------------------------------------------------------
    op.add_column("media", sa.Column("queries", JSON_DOC, nullable=True))
    op.add_column("media", sa.Column("trimmed", sa.Boolean(), nullable=True))

    # --- sightings: media seen but not hashed ------------------------------------------------
    op.add_column("sightings", sa.Column("skip_reason", sa.String(length=32), nullable=True))
    op.add_column("sightings", sa.Column("skip_detail", sa.Text(), nullable=True))
    op.add_column("sightings", sa.Column("file_size", sa.BigInteger(), nullable=True))
    op.add_column("sightings", sa.Column("mime_type", sa.String(length=100), nullable=True))
    if _sqlite():
        with _hits_set_aside(), op.batch_alter_table("sightings", recreate="always") as batch:
            batch.alter_column("media_id", existing_type=sa.Integer(), nullable=True)
    else:
        op.alter_column("sightings", "media_id", existing_type=sa.BigInteger(), nullable=True)

    # --- new tables --------------------------------------------------------------------------
    op.create_table(
        "watched_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("ref_kind", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_detail", sa.Text(), nullable=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("added_by", sa.Text(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("origin IN ('config', 'cli')", name=op.f("ck_watched_channels_origin")),
        sa.CheckConstraint(
            _in("ref_kind", ("username", "invite", "id")), name=op.f("ck_watched_channels_ref_kind")
        ),
        sa.CheckConstraint(_in("state", CHANNEL_STATES), name=op.f("ck_watched_channels_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_channels")),
        sa.UniqueConstraint("ref", name=op.f("uq_watched_channels_ref")),
    )
    op.create_index(op.f("ix_watched_channels_telegram_id"), "watched_channels", ["telegram_id"])

    op.create_table(
        "telegram_sessions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("dc_id", sa.Integer(), nullable=True),
        sa.Column("server_address", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("auth_key", sa.LargeBinary(), nullable=True),
        sa.Column("takeout_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('active', 'revoked', 'logged_out')", name=op.f("ck_telegram_sessions_state")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_telegram_sessions")),
    )
    op.create_table(
        "telegram_update_states",
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("pts", sa.BigInteger(), nullable=False),
        sa.Column("qts", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session"],
            ["telegram_sessions.name"],
            name=op.f("fk_telegram_update_states_session_telegram_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session", "entity_id", name=op.f("pk_telegram_update_states")),
    )
    op.create_table(
        "telegram_entities",
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("date", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session"],
            ["telegram_sessions.name"],
            name=op.f("fk_telegram_entities_session_telegram_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session", "id", name=op.f("pk_telegram_entities")),
    )
    op.create_index(op.f("ix_telegram_entities_phone"), "telegram_entities", ["phone"])
    op.create_index(op.f("ix_telegram_entities_username"), "telegram_entities", ["username"])

    op.create_table(
        "flood_waits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flood_waits")),
    )
    op.create_index(op.f("ix_flood_waits_at"), "flood_waits", ["at"])

    op.create_table(
        "alert_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("hit_id", BIG_ID, nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_alert_deliveries_status")
        ),
        sa.CheckConstraint(
            "target IN ('chat', 'bot', 'webhook')", name=op.f("ck_alert_deliveries_target")
        ),
        sa.ForeignKeyConstraint(
            ["hit_id"],
            ["hits.id"],
            name=op.f("fk_alert_deliveries_hit_id_hits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("hit_id", "target", name=op.f("uq_alert_deliveries_hit_id_target")),
    )
    op.create_index(
        "ix_alert_deliveries_status_next_attempt_at",
        "alert_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    # alert_deliveries first: hits must have no child rows when SQLite swaps sightings below.
    for table in (
        "alert_deliveries",
        "flood_waits",
        "telegram_entities",
        "telegram_update_states",
        "telegram_sessions",
        "watched_channels",
    ):
        op.drop_table(table)

    op.execute("DELETE FROM sightings WHERE media_id IS NULL")
    if _sqlite():
        with _hits_set_aside(), op.batch_alter_table("sightings", recreate="always") as batch:
            batch.alter_column("media_id", existing_type=sa.Integer(), nullable=False)
            for column in SIGHTING_COLUMNS:
                batch.drop_column(column)
    else:
        op.alter_column("sightings", "media_id", existing_type=sa.BigInteger(), nullable=False)
        for column in SIGHTING_COLUMNS:
            op.drop_column("sightings", column)

    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no copy of media or channels, whose
    # DROP TABLE would cascade to sightings.
    op.drop_column("media", "trimmed")
    op.drop_column("media", "queries")
    op.drop_column("channels", "last_reconciled_at")
    op.drop_column("channels", "last_message_at")
    op.drop_column("channels", "cursor")


@contextmanager
def _hits_set_aside() -> Iterator[None]:
    """SQLite: keep the hits in a scratch table while ``sightings`` is copied and swapped.

    ``DROP TABLE sightings`` deletes its rows first, and ``hits.sighting_id ON DELETE CASCADE``
    would take every hit with them. Hits have no child rows at this point (alert_deliveries does
    not exist yet, or is already dropped), so emptying and refilling hits touches nothing else.
    """
    op.execute("CREATE TABLE _hits_set_aside AS SELECT * FROM hits")
    op.execute("DELETE FROM hits")
    yield
    op.execute("INSERT INTO hits SELECT * FROM _hits_set_aside")
    op.execute("DROP TABLE _hits_set_aside")
