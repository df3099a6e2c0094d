"""Review and takedown: suppressed media, takedown requests and their re-checks; analyst views.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00.000000

New tables only, and an index on ``audit_log.subject`` (a hit's review history is read by
subject). Two read-only views for analysts working in SQL (see docs/schema.md):

- ``v_hits``: one row per hit with its channel, message link, list entry, case, review status
  and where removal of its message stands (the most advanced status over its takedowns:
  removed, inaccessible, up, unchecked; null when never reported);
- ``v_channel_activity``: one row per channel with what was seen there, its hits, and the
  monitoring state (allow-list state, cursor, last message, last reconciliation).

The views are plain SQL that SQLite and PostgreSQL both read. A later migration that rebuilds
one of the tables they read (SQLite batch mode) must drop them first and create them again.

Downgrading drops the views and the new tables with their rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REMOVAL_STATUSES = ("unchecked", "up", "removed", "inaccessible")
CHECK_OUTCOMES = ("up", "deleted", "media_removed", "private", "gone", "error")

V_HITS = """
CREATE VIEW v_hits AS
SELECT
    h.id AS hit_id,
    h.created_at AS recorded_at,
    h.review_status,
    h.reviewed_by,
    h.reviewed_at,
    h.review_note,
    h.tier,
    h.hash_type,
    h.distance,
    h.threshold,
    h.variant,
    b.name AS bank,
    e.id AS entry_id,
    e.value AS entry_value,
    e.status AS entry_status,
    e.case_id,
    e.label,
    m.sha256,
    m.md5,
    m.pdq,
    m.first_seen_at AS media_first_seen_at,
    s.id AS sighting_id,
    s.source_kind,
    s.media_kind,
    c.telegram_id AS chat_id,
    c.username AS channel_username,
    c.title AS channel_title,
    s.message_id,
    s.link,
    s.posted_at,
    s.seen_at,
    s.path,
    s.forward_chat_id,
    s.forward_message_id,
    s.forward_from_name,
    (SELECT CASE MAX(CASE t.status WHEN 'removed' THEN 3 WHEN 'inaccessible' THEN 2
                                   WHEN 'up' THEN 1 ELSE 0 END)
            WHEN 3 THEN 'removed' WHEN 2 THEN 'inaccessible' WHEN 1 THEN 'up'
            WHEN 0 THEN 'unchecked' END
     FROM takedowns t WHERE t.sighting_id = s.id) AS removal_status,
    (SELECT MIN(t.reported_at) FROM takedowns t WHERE t.sighting_id = s.id) AS reported_at,
    (SELECT MIN(t.removed_at) FROM takedowns t WHERE t.sighting_id = s.id) AS removed_at
FROM hits h
JOIN entries e ON e.id = h.entry_id
JOIN banks b ON b.id = e.bank_id
JOIN sightings s ON s.id = h.sighting_id
JOIN media m ON m.id = s.media_id
LEFT JOIN channels c ON c.id = s.channel_id
"""

V_CHANNEL_ACTIVITY = """
CREATE VIEW v_channel_activity AS
SELECT
    c.id AS channel_id,
    c.telegram_id AS chat_id,
    c.username,
    c.title,
    c.kind,
    (SELECT w.state FROM watched_channels w WHERE w.telegram_id = c.telegram_id AND w.enabled
     ORDER BY w.id LIMIT 1) AS watch_state,
    COALESCE(s.sightings, 0) AS sightings,
    COALESCE(s.media, 0) AS media,
    s.first_seen_at,
    s.last_seen_at,
    COALESCE(hs.hits, 0) AS hits,
    COALESCE(hs.confirmed_hits, 0) AS confirmed_hits,
    hs.last_hit_at,
    c.cursor,
    c.last_message_at,
    c.last_reconciled_at
FROM channels c
LEFT JOIN (
    SELECT channel_id, COUNT(*) AS sightings, COUNT(DISTINCT media_id) AS media,
           MIN(seen_at) AS first_seen_at, MAX(seen_at) AS last_seen_at
    FROM sightings GROUP BY channel_id
) s ON s.channel_id = c.id
LEFT JOIN (
    SELECT si.channel_id, COUNT(*) AS hits,
           SUM(CASE WHEN hi.review_status = 'confirmed' THEN 1 ELSE 0 END) AS confirmed_hits,
           MAX(hi.created_at) AS last_hit_at
    FROM hits hi JOIN sightings si ON si.id = hi.sighting_id
    GROUP BY si.channel_id
) hs ON hs.channel_id = c.id
"""


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])

    op.create_table(
        "suppressions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("media_id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("hit_id", BIG_ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_suppressions_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_suppressions_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hit_id"], ["hits.id"], name=op.f("fk_suppressions_hit_id_hits"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("media_id", "entry_id", name=op.f("uq_suppressions_media_id_entry_id")),
    )
    op.create_index(op.f("ix_suppressions_entry_id"), "suppressions", ["entry_id"])

    op.create_table(
        "takedowns",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("hit_id", BIG_ID, nullable=False),
        sa.Column("sighting_id", BIG_ID, nullable=False),
        sa.Column("reported_to", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("status", REMOVAL_STATUSES), name=op.f("ck_takedowns_status")),
        sa.CheckConstraint(
            _in("last_outcome", CHECK_OUTCOMES), name=op.f("ck_takedowns_last_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["hit_id"], ["hits.id"], name=op.f("fk_takedowns_hit_id_hits"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_takedowns_sighting_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedowns")),
        sa.UniqueConstraint(
            "sighting_id", "reported_to", name=op.f("uq_takedowns_sighting_id_reported_to")
        ),
    )
    op.create_index(op.f("ix_takedowns_hit_id"), "takedowns", ["hit_id"])
    op.create_index(op.f("ix_takedowns_reported_at"), "takedowns", ["reported_at"])
    op.create_index(
        "ix_takedowns_status_last_checked_at", "takedowns", ["status", "last_checked_at"]
    )

    op.create_table(
        "takedown_checks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sighting_id", BIG_ID, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("checked_by", sa.Text(), nullable=False),
        sa.CheckConstraint(_in("outcome", CHECK_OUTCOMES), name=op.f("ck_takedown_checks_outcome")),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_takedown_checks_sighting_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_checks")),
    )
    op.create_index(
        "ix_takedown_checks_sighting_id_checked_at",
        "takedown_checks",
        ["sighting_id", "checked_at"],
    )

    op.execute(V_HITS)
    op.execute(V_CHANNEL_ACTIVITY)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_channel_activity")
    op.execute("DROP VIEW IF EXISTS v_hits")
    op.drop_table("takedown_checks")
    op.drop_table("takedowns")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_audit_log_subject"), table_name="audit_log")
