"""Video: listed videos as timed frame PDQs, video thresholds per bank, video and clip hits,
video facts of media.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00.000000

- ``banks``: ``video_share`` (0.8) and ``clip_seconds`` (3.0), the video thresholds;
- ``entries``: hash type ``vpdq`` (a listed video; the value is the list's video id), whose
  frames are in the new table ``entry_frames`` (time, PDQ, quality; deleted with the entry);
- ``hits``: hash type ``vpdq``; ``match_kind`` (``file``, ``image``, ``frame``, ``clip``,
  ``video``; existing hits become ``file`` for tier ``exact``, else ``image``), and for frame,
  clip and video matches the matched frame pairs, the coverage and the matched span;
- ``media``: ``duration``, ``video`` (the video's facts) and ``frames`` (its timed frame hashes);
- ``v_hits`` gains ``match_kind``.

SQLite cannot change a CHECK constraint in place: ``entries`` and ``hits`` are copied and swapped
(Alembic batch mode). Dropping the old tables would cascade (foreign keys are on, and cannot be
switched off inside the migration's transaction): ``entry_events`` and ``suppressions`` rows go
with their entry, ``hits.entry_id`` is ON DELETE RESTRICT, and ``alert_deliveries`` and
``takedowns`` go with their hit. So those five tables are set aside in scratch tables first and
put back afterwards, ids unchanged. The views read these tables and are dropped first and
created again at the end (on both databases: one code path). ``audit_log`` is not touched.

Downgrading refuses while any ``vpdq`` entry, ``vpdq`` hit, or frame, clip or video hit exists
(the older schema cannot hold them); otherwise it removes everything above, the media's video
facts and the banks' video thresholds included.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OLD_HASH_TYPES = ("pdq", "phash", "md5", "sha256")
HASH_TYPES = (*OLD_HASH_TYPES, "vpdq")
MATCH_KINDS = ("file", "image", "frame", "clip", "video")
VIDEO_MATCH_KINDS = ("frame", "clip", "video")
HIT_COLUMNS = ("frames", "coverage", "span_start", "span_end")
MEDIA_COLUMNS = ("duration", "video", "frames")

# Rows that cascade from (or restrict) entries and hits, children first: emptied in this order
# before SQLite swaps the two tables, refilled in the reverse order afterwards.
SET_ASIDE = ("alert_deliveries", "takedowns", "suppressions", "hits", "entry_events")

# v_hits of 0003 with match_kind after tier.
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
    h.match_kind,
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

# v_hits as 0003 created it, for the downgrade.
V_HITS_0003 = V_HITS.replace("    h.match_kind,\n", "")

# Unchanged from 0003; dropped and created again around the table swaps.
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

# Existing hits: a cryptographic hash equal is a file match, anything else an image match.
MATCH_KIND_OF_OLD_HITS = "CASE WHEN tier = 'exact' THEN 'file' ELSE 'image' END"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _drop_views() -> None:
    op.execute("DROP VIEW IF EXISTS v_channel_activity")
    op.execute("DROP VIEW IF EXISTS v_hits")


def upgrade() -> None:
    _drop_views()

    # --- banks: the video thresholds ---------------------------------------------------------
    op.add_column(
        "banks",
        sa.Column("video_share", sa.Float(), server_default=sa.text("0.8"), nullable=False),
    )
    op.add_column(
        "banks",
        sa.Column("clip_seconds", sa.Float(), server_default=sa.text("3.0"), nullable=False),
    )

    # --- media: what was learned of videos ---------------------------------------------------
    op.add_column("media", sa.Column("duration", sa.Float(), nullable=True))
    op.add_column("media", sa.Column("video", JSON_DOC, nullable=True))
    op.add_column("media", sa.Column("frames", JSON_DOC, nullable=True))

    # --- entries and hits: vpdq, and the kind of match ---------------------------------------
    match_kind = sa.Column(
        "match_kind", sa.String(length=16), server_default=sa.text("'image'"), nullable=False
    )
    new_hit_columns = [
        sa.Column("frames", JSON_DOC, nullable=True),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("span_start", sa.Float(), nullable=True),
        sa.Column("span_end", sa.Float(), nullable=True),
    ]
    if _sqlite():
        with _set_aside({"hits": {"match_kind": MATCH_KIND_OF_OLD_HITS}}):
            with op.batch_alter_table("entries", recreate="always") as batch:
                batch.drop_constraint(op.f("ck_entries_hash_type"), type_="check")
                batch.create_check_constraint(
                    op.f("ck_entries_hash_type"), _in("hash_type", HASH_TYPES)
                )
            with op.batch_alter_table("hits", recreate="always") as batch:
                batch.drop_constraint(op.f("ck_hits_hash_type"), type_="check")
                batch.create_check_constraint(
                    op.f("ck_hits_hash_type"), _in("hash_type", HASH_TYPES)
                )
                batch.add_column(match_kind)
                for column in new_hit_columns:
                    batch.add_column(column)
                batch.create_check_constraint(
                    op.f("ck_hits_match_kind"), _in("match_kind", MATCH_KINDS)
                )
    else:
        for table in ("entries", "hits"):
            name = op.f(f"ck_{table}_hash_type")
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, _in("hash_type", HASH_TYPES))
        op.add_column("hits", match_kind)
        op.execute(f"UPDATE hits SET match_kind = {MATCH_KIND_OF_OLD_HITS} WHERE tier = 'exact'")  # noqa: S608
        op.create_check_constraint(
            op.f("ck_hits_match_kind"), "hits", _in("match_kind", MATCH_KINDS)
        )
        for column in new_hit_columns:
            op.add_column("hits", column)

    # --- entry_frames: the frames of listed videos -------------------------------------------
    op.create_table(
        "entry_frames",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_entry_frames_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_frames")),
    )
    op.create_index("ix_entry_frames_entry_id_timestamp", "entry_frames", ["entry_id", "timestamp"])

    op.execute(V_HITS)
    op.execute(V_CHANNEL_ACTIVITY)


def downgrade() -> None:
    _refuse_video_rows()
    _drop_views()
    op.drop_table("entry_frames")  # its index goes with it

    if _sqlite():
        with _set_aside({}):
            with op.batch_alter_table("hits", recreate="always") as batch:
                batch.drop_constraint(op.f("ck_hits_match_kind"), type_="check")
                for column in ("match_kind", *HIT_COLUMNS):
                    batch.drop_column(column)
                batch.drop_constraint(op.f("ck_hits_hash_type"), type_="check")
                batch.create_check_constraint(
                    op.f("ck_hits_hash_type"), _in("hash_type", OLD_HASH_TYPES)
                )
            with op.batch_alter_table("entries", recreate="always") as batch:
                batch.drop_constraint(op.f("ck_entries_hash_type"), type_="check")
                batch.create_check_constraint(
                    op.f("ck_entries_hash_type"), _in("hash_type", OLD_HASH_TYPES)
                )
    else:
        for column in HIT_COLUMNS:
            op.drop_column("hits", column)
        op.drop_constraint(op.f("ck_hits_match_kind"), "hits", type_="check")
        op.drop_column("hits", "match_kind")
        for table in ("hits", "entries"):
            name = op.f(f"ck_{table}_hash_type")
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, _in("hash_type", OLD_HASH_TYPES))

    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no copy of media or banks, whose
    # DROP TABLE would cascade to sightings and entries.
    for column in reversed(MEDIA_COLUMNS):
        op.drop_column("media", column)
    op.drop_column("banks", "clip_seconds")
    op.drop_column("banks", "video_share")

    op.execute(V_HITS_0003)
    op.execute(V_CHANNEL_ACTIVITY)


def _refuse_video_rows() -> None:
    """The older schema cannot hold listed videos or video hits: refuse rather than lose them."""
    bind = op.get_bind()
    entries = bind.execute(
        sa.text("SELECT COUNT(*) FROM entries WHERE hash_type = 'vpdq'")
    ).scalar_one()
    video_hits = _in("match_kind", VIDEO_MATCH_KINDS)
    hits = bind.execute(
        sa.text(f"SELECT COUNT(*) FROM hits WHERE hash_type = 'vpdq' OR {video_hits}")  # noqa: S608
    ).scalar_one()
    if entries or hits:
        raise CommandError(
            f"cannot downgrade below 0004: the database holds {entries} video list entries "
            f"(vpdq) and {hits} frame, clip or video hits, which revision 0003 cannot hold; "
            "delete them first (hits before their entries), or restore a backup taken before "
            "the upgrade"
        )


@contextmanager
def _set_aside(computed: dict[str, dict[str, str]]) -> Iterator[None]:
    """SQLite: keep the rows of :data:`SET_ASIDE` in scratch tables while ``entries`` and
    ``hits`` are copied and swapped, and put them back afterwards, ids unchanged.

    Rows go back into the columns the table has afterwards that the scratch copy has too;
    ``computed`` gives SQL expressions (over the old columns) for new columns of a table.
    """
    bind = op.get_bind()
    for table in SET_ASIDE:
        op.execute(f"CREATE TABLE _0004_{table} AS SELECT * FROM {table}")  # noqa: S608
    for table in SET_ASIDE:  # children first: nothing cascades
        op.execute(f"DELETE FROM {table}")  # noqa: S608
    yield
    for table in reversed(SET_ASIDE):  # parents first: every foreign key finds its row
        have = _columns(bind, f"_0004_{table}")
        wanted = [c for c in _columns(bind, table) if c in have]
        extra = computed.get(table, {})
        names = ", ".join(f'"{c}"' for c in [*wanted, *extra])
        values = ", ".join([*(f'"{c}"' for c in wanted), *extra.values()])
        op.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM _0004_{table}")  # noqa: S608
        op.execute(f"DROP TABLE _0004_{table}")


def _columns(bind: sa.engine.Connection, table: str) -> list[str]:
    return [row[1] for row in bind.execute(sa.text(f"PRAGMA table_info({table})"))]
