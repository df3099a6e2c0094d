"""Initial schema: banks, entries and their history, channels, media, sightings, hits, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:42:18.718194
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])

    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("pdq_near_exact_threshold", sa.Integer(), nullable=False),
        sa.Column("pdq_reoriented_threshold", sa.Integer(), nullable=False),
        sa.Column("phash_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("name", name=op.f("uq_banks_name")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_channels_telegram_id")),
    )
    op.create_table(
        "media",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("phash", sa.String(length=16), nullable=True),
        sa.Column("hash_failure_reason", sa.String(length=32), nullable=True),
        sa.Column("hash_failure_detail", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("sha256", name=op.f("uq_media_sha256")),
    )
    op.create_index(op.f("ix_media_md5"), "media", ["md5"])

    op.create_table(
        "entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("hash_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "hash_type IN ('pdq', 'phash', 'md5', 'sha256')", name=op.f("ck_entries_hash_type")
        ),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name=op.f("ck_entries_status")),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_entries_bank_id_banks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint(
            "bank_id", "hash_type", "value", name=op.f("uq_entries_bank_id_hash_type_value")
        ),
    )
    op.create_index("ix_entries_hash_type_value", "entries", ["hash_type", "value"])
    op.create_index("ix_entries_status", "entries", ["status"])

    op.create_table(
        "sightings",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("media_id", BIG_ID, nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("grouped_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_media_id", sa.BigInteger(), nullable=True),
        sa.Column("media_kind", sa.String(length=16), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("forward_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("forward_message_id", sa.BigInteger(), nullable=True),
        sa.Column("forward_from_name", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "media_kind IN ('photo', 'image', 'sticker', 'animation', 'video', 'other')",
            name=op.f("ck_sightings_media_kind"),
        ),
        sa.CheckConstraint(
            "source_kind IN ('telegram', 'file', 'desktop_export')",
            name=op.f("ck_sightings_source_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_sightings_channel_id_channels"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_sightings_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint("source_key", name=op.f("uq_sightings_source_key")),
    )
    op.create_index(op.f("ix_sightings_channel_id"), "sightings", ["channel_id"])
    op.create_index("ix_sightings_chat_id_message_id", "sightings", ["chat_id", "message_id"])
    op.create_index(op.f("ix_sightings_media_id"), "sightings", ["media_id"])
    op.create_index(op.f("ix_sightings_seen_at"), "sightings", ["seen_at"])
    op.create_index(op.f("ix_sightings_telegram_media_id"), "sightings", ["telegram_media_id"])

    op.create_table(
        "entry_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event IN ('added', 'withdrawn', 'reinstated', 'updated')",
            name=op.f("ck_entry_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_entry_events_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_events")),
    )
    op.create_index(op.f("ix_entry_events_entry_id"), "entry_events", ["entry_id"])

    op.create_table(
        "hits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sighting_id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("hash_type", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("query_value", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "review_status", sa.String(length=16), server_default=sa.text("'new'"), nullable=False
        ),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "hash_type IN ('pdq', 'phash', 'md5', 'sha256')", name=op.f("ck_hits_hash_type")
        ),
        sa.CheckConstraint(
            "review_status IN ('new', 'confirmed', 'false_positive', 'needs_info')",
            name=op.f("ck_hits_review_status"),
        ),
        sa.CheckConstraint("tier IN ('exact', 'near-exact', 'match')", name=op.f("ck_hits_tier")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_hits_entry_id_entries"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_hits_sighting_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hits")),
        sa.UniqueConstraint("sighting_id", "entry_id", name=op.f("uq_hits_sighting_id_entry_id")),
    )
    op.create_index(op.f("ix_hits_created_at"), "hits", ["created_at"])
    op.create_index(op.f("ix_hits_entry_id"), "hits", ["entry_id"])
    op.create_index(op.f("ix_hits_review_status"), "hits", ["review_status"])

    _create_audit_triggers()


def _create_audit_triggers() -> None:
    """audit_log is append-only: refuse UPDATE and DELETE (and TRUNCATE) in the database."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    # Dropping a table drops its indexes and triggers.
    for table in ("hits", "entry_events", "sightings", "entries", "media", "channels", "banks"):
        op.drop_table(table)
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
