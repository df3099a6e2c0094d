"""Banks (hash lists) and their entries: import, withdraw, stream, history.

A listed video (hash type ``vpdq``) is one entry whose value is the list's video id (case kept)
and whose frames (time, PDQ, quality) are rows of ``entry_frames``. Any change an import or a
withdrawal makes also moves the bank's ``updated_at``: the daemon sees a change in
:meth:`EntriesMixin.list_banks` and applies just the entries changed since it last looked
(:meth:`EntriesMixin.entry_changes`, by the ids of ``entry_events``).

Those ids must be committed in order for that to be exact: on PostgreSQL, a sequence hands out
ids when rows are inserted, and two transactions could commit them out of order (a reader
would pass over the earlier one's events for good). Every transaction that writes events
therefore first takes ``entry_events`` in EXCLUSIVE mode (readers are not blocked; list
changes, an administrator's occasional work, run one at a time). SQLite has one writer anyway.
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    String,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from monitor.domain import Bank, Entry, EntryStatus, HashType, ListEntry, ListFrame, Thresholds
from monitor.errors import NotFound
from monitor.store._base import CHUNK, IN_CHUNK, StoreBase, chunks, sample
from monitor.store.models import (
    BankRow,
    EntryEventRow,
    EntryFrameRow,
    EntryRow,
    UTCDateTime,
    utcnow,
)
from monitor.store.results import EntryEvent, EntryEventKind, ImportResult

ACTIVE = EntryStatus.ACTIVE.value
WITHDRAWN = EntryStatus.WITHDRAWN.value
VPDQ = HashType.VPDQ.value
# Entry ids per query when loading frames: one query for a default batch of iter_entries.
FRAMES_IN_CHUNK = 10_000
# Entry events read at a time by a daemon applying list changes (entry_changes).
CHANGES_PAGE = 50_000

# A video's frames as compared and stored: (timestamp, pdq, quality), time order.
FrameKey = tuple[float, str, int | None]

# Attributes of an entry as the matcher interns them: (case_id, label, metadata).
Attributes = tuple[str | None, str | None, dict[str, str]]

# Hash types streamed as columns by iter_entry_columns, by their code there (7: vpdq, 0: a value
# of the wrong length).
_COLUMN_TYPES = {1: HashType.PDQ, 2: HashType.PHASH, 3: HashType.MD5, 4: HashType.SHA256}


@dataclass(frozen=True, slots=True)
class HashColumns:
    """Active entries of one hash type (never ``vpdq``) from one batch, as arrays in id order.

    ``values`` holds the hashes' bytes (``n x bits/8``), as stored (hex, big-endian); each one
    well-formed: the right length, hexadecimal, neither all zero nor all one bits.
    """

    hash_type: HashType
    ids: npt.NDArray[np.int64]
    bank_ids: npt.NDArray[np.int64]
    attributes: npt.NDArray[np.int64]  # positions in the iteration's attribute list
    values: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class EntryBatch:
    """One batch of :meth:`EntriesMixin.iter_entry_columns`.

    ``new_attributes`` extend the iteration's attribute list (the codes in ``columns`` index
    it). ``entries`` are the batch's listed videos (with their frames) and any stored value that
    is not a well-formed hash, as whole :class:`Entry` objects for the caller's own checks.
    """

    columns: list[HashColumns]
    new_attributes: list[Attributes]
    entries: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class _Wanted:
    """The state a list asks for one (hash type, value), duplicates merged in file order.

    ``frames``: a video's frames, (timestamp, pdq) -> quality; None for other entries, and for a
    video given without frames (its stored frames are left alone).
    """

    status: str
    case_id: str | None
    label: str | None
    added_at: datetime | None
    metadata: dict[str, str]
    frames: dict[tuple[float, str], int | None] | None = None

    def merge(self, entry: ListEntry) -> None:
        self.status = entry.status.value
        if entry.case_id is not None:
            self.case_id = entry.case_id
        if entry.label is not None:
            self.label = entry.label
        if entry.added_at is not None:
            self.added_at = entry.added_at
        if entry.metadata:
            self.metadata = {**self.metadata, **entry.metadata}
        if entry.frames:
            if self.frames is None:
                self.frames = {}
            _add_frames(self.frames, entry.frames)

    def frame_rows(self) -> list[FrameKey] | None:
        """The frames in time order (timestamp, then pdq), as stored; None: leave them alone."""
        if self.frames is None:
            return None
        return [(ts, pdq, quality) for (ts, pdq), quality in sorted(self.frames.items())]


def _add_frames(into: dict[tuple[float, str], int | None], frames: Sequence[ListFrame]) -> None:
    """The same (timestamp, pdq) twice is one frame; a later quality that is set wins."""
    for frame in frames:
        key = (float(frame.timestamp) + 0.0, frame.pdq.lower())
        if frame.quality is not None or key not in into:
            into[key] = frame.quality


def _wanted(entry: ListEntry) -> _Wanted:
    want = _Wanted(entry.status.value, entry.case_id, entry.label, entry.added_at, entry.metadata)
    if entry.frames:
        want.frames = {}
        _add_frames(want.frames, entry.frames)
    return want


def _entry_key(hash_type: HashType, value: str) -> tuple[str, str]:
    """Hex values are compared lower-case; a video id keeps its case."""
    if hash_type is HashType.VPDQ:
        return hash_type.value, value.strip()
    return hash_type.value, value.lower()


def _check_frames(entry: ListEntry) -> None:
    if entry.frames and entry.hash_type is not HashType.VPDQ:
        raise ValueError(
            f"{entry.hash_type.value} entry {entry.value!r} has frames; only vpdq entries do"
        )
    for frame in entry.frames:
        if not (0 <= frame.timestamp < float("inf")):
            raise ValueError(f"video {entry.value!r}: bad frame timestamp {frame.timestamp!r}")
        if frame.quality is not None and not 0 <= frame.quality <= 100:
            raise ValueError(f"video {entry.value!r}: bad frame quality {frame.quality!r}")


class EntriesMixin(StoreBase):
    # --- banks ------------------------------------------------------------------------------

    async def upsert_bank(
        self,
        name: str,
        *,
        source: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        thresholds: Thresholds | None = None,
    ) -> Bank:
        """Create the bank (``thresholds`` or the defaults), or update only what is given."""
        changes: dict[str, Any] = {}
        if source is not None:
            changes["source"] = source
        if description is not None:
            changes["description"] = description
        if enabled is not None:
            changes["enabled"] = enabled
        if thresholds is not None:
            changes.update(_threshold_columns(thresholds))
        async with self._tx(write=True) as conn:
            now = utcnow()
            values: dict[str, Any] = {
                "name": name,
                "source": "",
                "description": "",
                "enabled": True,
                **_threshold_columns(thresholds or Thresholds()),
                "created_at": now,
                "updated_at": now,
                **changes,
            }
            created = await conn.execute(
                self._insert_or_ignore(BankRow, "name").values(**values).returning(BankRow.id)
            )
            if created.scalar_one_or_none() is None and changes:
                await conn.execute(
                    update(BankRow).where(BankRow.name == name).values(updated_at=now, **changes)
                )
            return await self._bank(conn, name)

    async def get_bank(self, name: str) -> Bank:
        async with self._tx(write=False) as conn:
            return await self._bank(conn, name)

    async def list_banks(self, *, counts: bool = True) -> list[Bank]:
        """Every bank by name, with its active and withdrawn entry counts (``counts=False``:
        zero, and no count query: that reads every entry, tens of seconds for ten million)."""
        async with self._tx(write=False) as conn:
            counted = await self._entry_counts(conn, None) if counts else {}
            rows = await conn.execute(select(*_BANK_COLUMNS).order_by(BankRow.name))
            return [_bank(row._mapping, counted.get(row.id, {})) for row in rows]

    async def set_bank_enabled(self, name: str, enabled: bool) -> Bank:
        async with self._tx(write=True) as conn:
            await self._bank_id(conn, name)
            await conn.execute(
                update(BankRow)
                .where(BankRow.name == name)
                .values(enabled=enabled, updated_at=utcnow())
            )
            return await self._bank(conn, name)

    async def _bank(self, conn: AsyncConnection, name: str) -> Bank:
        row = (await conn.execute(select(*_BANK_COLUMNS).where(BankRow.name == name))).first()
        if row is None:
            await self._raise_unknown_bank(conn, name)
        counts = await self._entry_counts(conn, row.id)
        return _bank(row._mapping, counts.get(row.id, {}))

    async def _bank_id(self, conn: AsyncConnection, name: str, *, lock: bool = False) -> int:
        stmt = select(BankRow.id).where(BankRow.name == name)
        if lock:
            stmt = stmt.with_for_update()
        bank_id = (await conn.execute(stmt)).scalar()
        if bank_id is None:
            await self._raise_unknown_bank(conn, name)
        return bank_id

    async def _raise_unknown_bank(self, conn: AsyncConnection, name: str) -> NoReturn:
        names = (await conn.execute(select(BankRow.name).order_by(BankRow.name))).scalars().all()
        known = f"known banks: {', '.join(names)}" if names else "there are no banks yet"
        raise NotFound(f"no bank named {name!r} ({known})")

    async def _entry_counts(
        self, conn: AsyncConnection, bank_id: int | None
    ) -> dict[int, dict[str, int]]:
        stmt = select(EntryRow.bank_id, EntryRow.status, func.count()).group_by(
            EntryRow.bank_id, EntryRow.status
        )
        if bank_id is not None:
            stmt = stmt.where(EntryRow.bank_id == bank_id)
        counts: dict[int, dict[str, int]] = {}
        for bank, status, count in await conn.execute(stmt):
            counts.setdefault(bank, {})[status] = count
        return counts

    # --- entries ----------------------------------------------------------------------------

    async def import_entries(
        self, bank: str, entries: Sequence[ListEntry], *, source: str, actor: str
    ) -> ImportResult:
        """Apply a parsed hash list to ``bank`` in one transaction; all or nothing.

        Lines for the same (hash type, value) merge in file order: the last status wins, later
        non-empty fields win, metadata dicts merge. Entries the list does not mention are left
        alone (withdrawal is explicit). Every change writes an ``entry_events`` row; the import
        writes one audit row. Re-importing the same list changes nothing.

        A video (``vpdq``) comes with its frames: frames different from the stored ones replace
        them (an ``updated`` event); a known video given without frames keeps its own, a new
        one without frames is a ``ValueError``. Any change moves the bank's ``updated_at``.
        """
        wanted: dict[tuple[str, str], _Wanted] = {}
        for entry in entries:
            _check_frames(entry)
            key = _entry_key(entry.hash_type, entry.value)
            have = wanted.get(key)
            if have is None:
                wanted[key] = _wanted(entry)
            else:
                have.merge(entry)
        list_videos = list_frames = 0
        for (hash_type, _), want in wanted.items():
            if hash_type != VPDQ:
                continue
            list_videos += 1
            list_frames += len(want.frames or ())

        counts = dict.fromkeys(EntryEventKind, 0)
        unchanged = 0
        async with self._tx(write=True) as conn:
            await self._serialize_entry_changes(conn)
            now = utcnow()
            # Locks the bank row on PostgreSQL: imports into one bank run one after the other.
            bank_id = await self._bank_id(conn, bank, lock=True)
            dt, js = self._binder(EntryRow, "added_at"), self._binder(EntryRow, "metadata")
            raw_now = dt(now)
            updates: list[tuple[Any, ...]] = []
            events: list[tuple[Any, ...]] = []
            # Videos whose frames the list gives: entry id -> frames (compared after the scan).
            videos: dict[int, tuple[tuple[Any, ...], _Wanted]] = {}

            def compare(row: Sequence[Any], want: _Wanted, frames_changed: bool) -> None:
                nonlocal unchanged
                entry_id, _, _, status, case_id, label, added, meta = row
                new_case = want.case_id if want.case_id is not None else case_id
                new_label = want.label if want.label is not None else label
                new_added = dt(want.added_at) if want.added_at is not None else added
                new_meta = meta
                if want.metadata:
                    old_meta = _json_dict(meta)
                    merged = {**old_meta, **want.metadata}
                    if merged != old_meta:
                        new_meta = js(merged)
                if not frames_changed and (
                    want.status,
                    new_case,
                    new_label,
                    new_added,
                    new_meta,
                ) == (status, case_id, label, added, meta):
                    unchanged += 1
                    return
                if want.status != status:
                    kind = (
                        EntryEventKind.WITHDRAWN
                        if want.status == WITHDRAWN
                        else EntryEventKind.REINSTATED
                    )
                else:
                    kind = EntryEventKind.UPDATED
                counts[kind] += 1
                if not isinstance(new_meta, str):  # asyncpg decodes jsonb itself
                    new_meta = js(_json_dict(new_meta))
                updates.append(
                    (want.status, new_case, new_label, new_added, new_meta, raw_now, entry_id)
                )
                events.append((entry_id, kind.value, None, source, actor, raw_now))

            # One read of the bank's existing entries, compared with what the list asks for.
            # Values stay in the driver's form (no per-row type processing): the list's values
            # are brought into that form instead, and metadata is decoded only when it differs.
            result = await conn.stream(
                select(
                    EntryRow.id,
                    EntryRow.hash_type,
                    EntryRow.value,
                    EntryRow.status,
                    EntryRow.case_id,
                    EntryRow.label,
                    type_coerce(EntryRow.added_at, _Raw()),
                    type_coerce(EntryRow.meta, _Raw()),
                ).where(EntryRow.bank_id == bank_id)
            )
            async for partition in result.partitions(CHUNK):
                for row in partition:
                    found = wanted.pop((row[1], row[2]), None)
                    if found is None:
                        continue
                    if found.frames is not None:
                        videos[row[0]] = (tuple(row), found)  # frames compared below
                        continue
                    compare(row, found, False)

            for (hash_type, value), want in wanted.items():  # what is left is new
                if hash_type == VPDQ and not want.frames:
                    raise ValueError(f"new video {value!r} (vpdq) comes without frames")

            # Videos: their stored frames, compared with the list's; different ones replaced.
            stored = await _load_frames(conn, list(videos)) if videos else {}
            replace: dict[int, list[FrameKey]] = {}
            for entry_id, (values, video) in videos.items():
                frames = video.frame_rows()
                assert frames is not None
                changed = frames != stored.get(entry_id, [])
                if changed:
                    replace[entry_id] = frames
                compare(values, video, changed)

            await self._bulk_update(
                conn,
                EntryRow,
                ("status", "case_id", "label", "added_at", "metadata", "updated_at"),
                updates,
            )
            await self._bulk_insert(conn, EntryEventRow, _EVENT_COLUMNS, events)
            for some_ids in chunks(list(replace), IN_CHUNK):
                await conn.execute(
                    delete(EntryFrameRow).where(EntryFrameRow.entry_id.in_(some_ids))
                )
            await self._insert_frames(conn, replace)

            # What is left is new. An entry first seen as withdrawn is kept, as withdrawn.
            before = (await conn.execute(select(func.max(EntryRow.id)))).scalar() or 0
            new_rows = [
                (
                    bank_id,
                    hash_type,
                    value,
                    want.status,
                    want.case_id,
                    want.label,
                    dt(want.added_at),
                    js(want.metadata),
                    raw_now,
                    raw_now,
                )
                for (hash_type, value), want in wanted.items()
            ]
            for status in (w.status for w in wanted.values()):
                counts[EntryEventKind.ADDED if status == ACTIVE else EntryEventKind.WITHDRAWN] += 1
            for batch in chunks(new_rows, CHUNK):
                await self._insert_entries(conn, batch)
            if new_rows:
                # Their history rows, in one statement: the new rows are those of this bank
                # above the old maximum id (the bank is locked, or SQLite's write lock is held).
                event = case(
                    (EntryRow.status == ACTIVE, EntryEventKind.ADDED.value),
                    else_=EntryEventKind.WITHDRAWN.value,
                )
                await conn.execute(
                    insert(EntryEventRow).from_select(
                        ["entry_id", "event", "source", "actor", "at"],
                        select(
                            EntryRow.id,
                            event,
                            literal(source, Text()),
                            literal(actor, Text()),
                            literal(now, UTCDateTime()),
                        ).where(EntryRow.bank_id == bank_id, EntryRow.id > before),
                    )
                )
            new_videos = {
                value: want for (hash_type, value), want in wanted.items() if hash_type == VPDQ
            }
            if new_videos:
                ids = await conn.execute(
                    select(EntryRow.id, EntryRow.value).where(
                        EntryRow.bank_id == bank_id,
                        EntryRow.id > before,
                        EntryRow.hash_type == VPDQ,
                    )
                )
                frames_of: dict[int, list[FrameKey]] = {}
                for entry_id, value in ids:
                    frames = new_videos[value].frame_rows()
                    assert frames is not None
                    frames_of[entry_id] = frames
                await self._insert_frames(conn, frames_of)

            result_ = ImportResult(
                bank=bank,
                source=source,
                added=counts[EntryEventKind.ADDED],
                updated=counts[EntryEventKind.UPDATED],
                withdrawn=counts[EntryEventKind.WITHDRAWN],
                reinstated=counts[EntryEventKind.REINSTATED],
                unchanged=unchanged,
            )
            if result_.changed:
                # The daemon's reload signal (list_banks): also for changes the counts miss.
                await conn.execute(
                    update(BankRow).where(BankRow.id == bank_id).values(updated_at=now)
                )
            details: dict[str, Any] = {
                "source": source,
                "lines": len(entries),
                "added": result_.added,
                "updated": result_.updated,
                "withdrawn": result_.withdrawn,
                "reinstated": result_.reinstated,
                "unchanged": result_.unchanged,
            }
            if list_videos:
                details["videos"] = list_videos
                details["frames"] = list_frames
            await self._audit(conn, actor, "entries.import", bank, details)
            return result_

    async def _insert_frames(
        self, conn: AsyncConnection, frames_of: dict[int, list[FrameKey]]
    ) -> None:
        rows = [
            (entry_id, ts, pdq, quality)
            for entry_id, frames in frames_of.items()
            for ts, pdq, quality in frames
        ]
        await self._bulk_insert(conn, EntryFrameRow, _FRAME_COLUMNS, rows)

    async def _insert_entries(self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert one chunk of new entries (values in the driver's form, see import_entries)."""
        await self._bulk_insert(conn, EntryRow, _ENTRY_INSERT_COLUMNS, rows)

    async def withdraw_entries(
        self, bank: str, values: Sequence[str], *, reason: str, actor: str
    ) -> int:
        """Withdraw entries of ``bank`` by value (any hash type); how many were active.

        Hex values match in any case; a video's id (``vpdq``) matches as written. Unknown values
        raise ``NotFound`` naming them, and nothing is withdrawn.
        """
        wanted = list(dict.fromkeys(v.strip() for v in values))
        by_lower: dict[str, list[str]] = {}
        for value in wanted:
            by_lower.setdefault(value.lower(), []).append(value)
        candidates = list(dict.fromkeys([*wanted, *by_lower]))
        async with self._tx(write=True) as conn:
            await self._serialize_entry_changes(conn)
            now = utcnow()
            bank_id = await self._bank_id(conn, bank)
            found: set[str] = set()
            ids: dict[int, None] = {}
            for some_values in chunks(candidates, IN_CHUNK):
                rows = await conn.execute(
                    select(EntryRow.id, EntryRow.hash_type, EntryRow.value, EntryRow.status).where(
                        EntryRow.bank_id == bank_id, EntryRow.value.in_(some_values)
                    )
                )
                for row in rows:
                    if row.hash_type == VPDQ:  # the id as written
                        named = [row.value] if row.value in wanted else []
                    else:  # hex, stored lower-case: any case given
                        named = by_lower.get(row.value, [])
                    if not named:
                        continue
                    found.update(named)
                    if row.status == ACTIVE:
                        ids[row.id] = None
            missing = [v for v in wanted if v not in found]
            if missing:
                raise NotFound(f"{len(missing)} value(s) not in bank {bank!r}: {sample(missing)}")
            for some_ids in chunks(list(ids), IN_CHUNK):
                await conn.execute(
                    update(EntryRow)
                    .where(EntryRow.id.in_(some_ids))
                    .values(status=WITHDRAWN, updated_at=now)
                )
            events = [_event(i, EntryEventKind.WITHDRAWN, reason, None, actor, now) for i in ids]
            for some_events in chunks(events, CHUNK):
                await conn.execute(insert(EntryEventRow), list(some_events))
            if ids:
                await conn.execute(
                    update(BankRow).where(BankRow.id == bank_id).values(updated_at=now)
                )
            await self._audit(
                conn,
                actor,
                "entries.withdraw",
                bank,
                {"reason": reason, "values": len(wanted), "withdrawn": len(ids)},
            )
            return len(ids)

    async def iter_entries(
        self,
        bank: str | None = None,
        status: EntryStatus | None = None,
        batch: int = 10_000,
    ) -> AsyncIterator[Entry]:
        """Stream entries in id order, ``batch`` rows per short read transaction.

        No connection is held between batches, so a caller may stop early. Entries changed
        while the iteration runs may or may not be seen (each batch is its own snapshot).
        """
        async with self._tx(write=False) as conn:
            banks = await conn.execute(select(BankRow.id, BankRow.name))
            names = {row.id: row.name for row in banks}
            bank_id = await self._bank_id(conn, bank) if bank is not None else None
            # Lists without videos (the usual case) pay nothing per row for them, except in
            # batches reaching entries added since this check.
            any_video = select(EntryRow.id).where(EntryRow.hash_type == VPDQ).limit(1)
            if bank_id is not None:
                any_video = any_video.where(EntryRow.bank_id == bank_id)
            has_videos = (await conn.execute(any_video)).first() is not None
            newest = (await conn.execute(select(func.max(EntryRow.id)))).scalar() or 0
        # Walk the primary key in order. The filters are written so that no index applies
        # ("+ 0", "|| ''"): with an index on bank or status SQLite would read and sort all the
        # remaining rows for every batch.
        stmt = select(*_ENTRY_ROW_COLUMNS).order_by(EntryRow.id).limit(batch)
        if bank_id is not None:
            stmt = stmt.where(EntryRow.bank_id + 0 == bank_id)
        if status is not None:
            stmt = stmt.where(EntryRow.status.concat("") == status.value)
        last = 0
        while True:
            async with self._tx(write=False) as conn:
                rows = (await conn.execute(stmt.where(EntryRow.id > last))).all()
                # Listed videos come with their frames: one more query, only for a batch that
                # has videos in it.
                videos = (
                    [row.id for row in rows if row.hash_type == VPDQ]
                    if rows and (has_videos or rows[-1].id >= newest)
                    else []
                )
                frames = await _load_frames(conn, videos) if videos else {}
            if frames:
                for row in rows:
                    yield _entry(row._mapping, names[row.bank_id], frames.get(row.id))
            else:
                for row in rows:
                    yield _entry(row._mapping, names[row.bank_id])
            if len(rows) < batch:
                return
            last = rows[-1].id

    async def iter_entry_columns(self, *, batch: int = 200_000) -> AsyncIterator[EntryBatch]:
        """Every active entry of every bank, in id order, as arrays: for building the matcher.

        The database concatenates each batch's ids, bank ids, hash types, values and attributes
        into a few strings, so no Python object is made per row (ten million entries would
        take minutes otherwise); they become numpy arrays here. A batch is a range of ``batch``
        ids. Attributes (case id, label, metadata) are interned across the whole iteration.
        Listed videos, and stored values that are not well-formed hashes, come as whole
        entries (few). Each batch is its own short read transaction, as in
        :meth:`iter_entries`; entries added meanwhile may or may not be seen.
        """
        async with self._tx(write=False) as conn:
            banks = await conn.execute(select(BankRow.id, BankRow.name))
            names = {row.id: row.name for row in banks}
            first = (await conn.execute(select(func.min(EntryRow.id)))).scalar()
        if first is None:
            return
        statements = {safe: self._column_batch(safe) for safe in (False, True)}
        interned: dict[tuple[str, str, str], int] = {}
        after = first - 1
        while True:
            upto = after + batch
            async with self._tx(write=False) as conn:
                bounds = {"after": after, "upto": upto}
                row = (await conn.execute(statements[False], bounds)).one()
                parsed = _parse(row, interned, safe=False)
                if parsed is None:  # a separator in an attribute, a value of the wrong length
                    row = (await conn.execute(statements[True], bounds)).one()
                    parsed = _parse(row, interned, safe=True)
                    assert parsed is not None
                columns, new_attributes, odd, newest = parsed
                entries = await self._entries_by_id(conn, odd, names) if odd else []
            if columns or entries or new_attributes:
                yield EntryBatch(columns, new_attributes, entries)
            if newest is None or upto >= newest:
                return
            after = upto

    def _column_batch(self, safe: bool) -> Any:
        """One batch of :meth:`iter_entry_columns`: entries with ``after < id <= upto``.

        Per row: the id and ``bank_id * 8 + type code`` (decimal), the value (a video's: empty),
        and the case id, label and metadata, each column joined by ``\\x1e`` (NULL as
        ``\\x15``). ``safe`` (a batch is read again so when a value holds those characters or
        a value has the wrong length): the attributes hex-encoded and each value's length too.
        """
        postgres = self.dialect == "postgresql"

        def text(column: Any) -> ColumnElement[Any]:
            return cast(column, Text) if postgres else type_coerce(column, Text)

        def field(column: Any) -> ColumnElement[Any]:
            if not safe:
                return func.coalesce(text(column), literal(_NULL, Text))
            if postgres:
                encoded = func.encode(func.convert_to(text(column), "UTF8"), "hex")
            else:
                encoded = func.hex(text(column))
            return case((column.is_(None), "-"), else_=encoded)  # SQLite: hex(NULL) is ''

        def concat(expr: Any, separator: str) -> ColumnElement[Any]:
            sep = literal(separator, Text)
            if postgres:
                return func.string_agg(expr, sep)
            return func.group_concat(expr, sep)

        codes = {t.value: code for code, t in _COLUMN_TYPES.items()}
        type_code = case({**codes, VPDQ: _VIDEO_CODE}, value=EntryRow.hash_type, else_=0)
        video = EntryRow.hash_type == VPDQ
        value = case((video, ""), else_=EntryRow.value)
        sep = "," if safe else _ROW_SEP
        marked = or_(EntryRow.case_id == _NULL, EntryRow.label == _NULL)
        lengths = (
            [concat(text(case((video, 0), else_=func.length(EntryRow.value))), ",")] if safe else []
        )
        return select(
            concat(text(EntryRow.id), ","),
            concat(text(EntryRow.bank_id * 8 + type_code), ","),
            concat(value, ""),
            *lengths,
            concat(field(EntryRow.case_id), sep),
            concat(field(EntryRow.label), sep),
            concat(field(EntryRow.meta), sep),
            func.count(),
            func.coalesce(func.sum(case((marked, 1), else_=0)), 0),
            select(func.max(EntryRow.id)).scalar_subquery(),
        ).where(
            EntryRow.id > bindparam("after", type_=BigInteger),
            EntryRow.id <= bindparam("upto", type_=BigInteger),
            EntryRow.status == ACTIVE,
        )

    async def _entries_by_id(
        self, conn: AsyncConnection, ids: Sequence[int], names: dict[int, str]
    ) -> list[Entry]:
        found: list[Entry] = []
        for some_ids in chunks(list(ids), IN_CHUNK):
            rows = (
                await conn.execute(
                    select(*_ENTRY_ROW_COLUMNS)
                    .where(EntryRow.id.in_(some_ids))
                    .order_by(EntryRow.id)
                )
            ).all()
            videos = [row.id for row in rows if row.hash_type == VPDQ]
            frames = await _load_frames(conn, videos) if videos else {}
            found.extend(
                _entry(row._mapping, names.get(row.bank_id, ""), frames.get(row.id)) for row in rows
            )
        return found

    async def _serialize_entry_changes(self, conn: AsyncConnection) -> None:
        """Event ids committed in the order they were handed out (see the module's note)."""
        if self.dialect == "postgresql":
            await conn.execute(sql_text("LOCK TABLE entry_events IN EXCLUSIVE MODE"))

    async def last_entry_event(self) -> int:
        """The id of the newest entry event (0 when there is none): where a reader of
        :meth:`entry_changes` that has just read every entry starts."""
        async with self._tx(write=False) as conn:
            found = (await conn.execute(select(func.max(EntryEventRow.id)))).scalar_one()
        return int(found or 0)

    async def entry_changes(
        self, after: int, *, limit: int = CHANGES_PAGE
    ) -> tuple[list[Entry], int]:
        """The entries changed by the (up to ``limit``) events after the event id ``after``,
        each once and in its current state (withdrawn ones too, with their status, and videos
        with their frames); and the id of the last event read (``after`` when none). Read
        again from that id until no entry comes back."""
        async with self._tx(write=False) as conn:
            rows = (
                await conn.execute(
                    select(EntryEventRow.id, EntryEventRow.entry_id)
                    .where(EntryEventRow.id > after)
                    .order_by(EntryEventRow.id)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return [], after
            names = {
                bank_id: name
                for bank_id, name in await conn.execute(select(BankRow.id, BankRow.name))
            }
            ids = list(dict.fromkeys(row.entry_id for row in rows))
            entries = await self._entries_by_id(conn, ids, names)
        return entries, int(rows[-1].id)

    async def get_entry(self, entry_id: int) -> Entry:
        async with self._tx(write=False) as conn:
            row = (
                await conn.execute(
                    select(*_ENTRY_ROW_COLUMNS, BankRow.name)
                    .join(BankRow, BankRow.id == EntryRow.bank_id)
                    .where(EntryRow.id == entry_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no list entry with id {entry_id}")
            frames = await _load_frames(conn, [entry_id]) if row.hash_type == VPDQ else {}
        return _entry(row._mapping, row.name, frames.get(entry_id))

    async def entry_history(self, entry_id: int) -> list[EntryEvent]:
        """The entry's changes, oldest first."""
        async with self._tx(write=False) as conn:
            exists = (
                await conn.execute(select(EntryRow.id).where(EntryRow.id == entry_id))
            ).scalar()
            if exists is None:
                raise NotFound(f"no list entry with id {entry_id}")
            rows = await conn.execute(
                select(EntryEventRow)
                .where(EntryEventRow.entry_id == entry_id)
                .order_by(EntryEventRow.at, EntryEventRow.id)
            )
            return [
                EntryEvent(
                    id=row.id,
                    entry_id=row.entry_id,
                    event=EntryEventKind(row.event),
                    at=row.at,
                    reason=row.reason,
                    source=row.source,
                    actor=row.actor,
                )
                for row in rows
            ]


_BANK_COLUMNS = (
    BankRow.id,
    BankRow.name,
    BankRow.source,
    BankRow.description,
    BankRow.enabled,
    BankRow.pdq_threshold,
    BankRow.pdq_near_exact_threshold,
    BankRow.pdq_reoriented_threshold,
    BankRow.phash_threshold,
    BankRow.video_share,
    BankRow.clip_seconds,
    BankRow.created_at,
    BankRow.updated_at,
)

_ENTRY_ROW_COLUMNS = (
    EntryRow.id,
    EntryRow.bank_id,
    EntryRow.hash_type,
    EntryRow.value,
    EntryRow.status,
    EntryRow.case_id,
    EntryRow.label,
    EntryRow.added_at,
    EntryRow.meta.label("metadata"),
    EntryRow.created_at,
    EntryRow.updated_at,
)

_ENTRY_INSERT_COLUMNS = (
    "bank_id",
    "hash_type",
    "value",
    "status",
    "case_id",
    "label",
    "added_at",
    "metadata",
    "created_at",
    "updated_at",
)
_EVENT_COLUMNS = ("entry_id", "event", "reason", "source", "actor", "at")
_FRAME_COLUMNS = ("entry_id", "timestamp", "pdq", "quality")


async def _load_frames(
    conn: AsyncConnection, entry_ids: Sequence[int]
) -> dict[int, list[FrameKey]]:
    """The stored frames of these entries, in time order (then by pdq)."""
    frames: dict[int, list[FrameKey]] = {}
    for some_ids in chunks(entry_ids, FRAMES_IN_CHUNK):
        rows = await conn.execute(
            select(
                EntryFrameRow.entry_id,
                EntryFrameRow.timestamp,
                EntryFrameRow.pdq,
                EntryFrameRow.quality,
            )
            .where(EntryFrameRow.entry_id.in_(some_ids))
            .order_by(EntryFrameRow.entry_id, EntryFrameRow.timestamp, EntryFrameRow.pdq)
        )
        for entry_id, ts, pdq, quality in rows:
            frames.setdefault(entry_id, []).append((float(ts), pdq, quality))
    return frames


class _Raw(TypeDecorator[Any]):
    """Reads a column as the driver returns it, without SQLAlchemy's result processing."""

    impl = String()
    cache_ok = True


def _json_dict(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str | bytes):
        decoded = json.loads(raw)
        return decoded if isinstance(decoded, dict) else {}
    return dict(raw)


def _threshold_columns(t: Thresholds) -> dict[str, int | float]:
    return {
        "pdq_threshold": t.pdq,
        "pdq_near_exact_threshold": t.pdq_near_exact,
        "pdq_reoriented_threshold": t.pdq_reoriented,
        "phash_threshold": t.phash,
        "video_share": float(t.video_share),
        "clip_seconds": float(t.clip_seconds),
    }


def _event(
    entry_id: int,
    kind: EntryEventKind,
    reason: str | None,
    source: str | None,
    actor: str | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "event": kind.value,
        "reason": reason,
        "source": source,
        "actor": actor,
        "at": at,
    }


def _bank(row: RowMapping, counts: dict[str, int]) -> Bank:
    return Bank(
        id=row["id"],
        name=row["name"],
        source=row["source"],
        description=row["description"],
        enabled=row["enabled"],
        thresholds=Thresholds(
            pdq=row["pdq_threshold"],
            pdq_near_exact=row["pdq_near_exact_threshold"],
            pdq_reoriented=row["pdq_reoriented_threshold"],
            phash=row["phash_threshold"],
            video_share=row["video_share"],
            clip_seconds=row["clip_seconds"],
        ),
        active_entries=counts.get(ACTIVE, 0),
        withdrawn_entries=counts.get(WITHDRAWN, 0),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_HASH_TYPES = {h.value: h for h in HashType}
_STATUSES = {s.value: s for s in EntryStatus}


def _entry(row: RowMapping, bank: str, frames: list[FrameKey] | None = None) -> Entry:
    return Entry(
        id=row["id"],
        bank=bank,
        hash_type=_HASH_TYPES[row["hash_type"]],
        value=row["value"],
        status=_STATUSES[row["status"]],
        case_id=row["case_id"],
        label=row["label"],
        added_at=row["added_at"],
        metadata=dict(row["metadata"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        frames=tuple(ListFrame(ts, pdq, quality) for ts, pdq, quality in frames) if frames else (),
    )


_ROW_SEP = "\x1e"
_NULL = "\x15"
_VIDEO_CODE = 7
_WIDTHS = np.zeros(8, dtype=np.int64)  # hex characters of a value, by type code
for _code, _type in _COLUMN_TYPES.items():
    _WIDTHS[_code] = _type.hex_len


def _parse(
    row: Sequence[Any], interned: dict[tuple[str, str, str], int], *, safe: bool
) -> tuple[list[HashColumns], list[Attributes], list[int], int | None] | None:
    """:func:`_parse_batch` with the garbage collector paused: it makes a tuple per row, which
    would set off collections that walk every object for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_batch(row, interned, safe=safe)
    finally:
        if enabled:
            gc.enable()


def _parse_batch(
    row: Sequence[Any], interned: dict[tuple[str, str, str], int], *, safe: bool
) -> tuple[list[HashColumns], list[Attributes], list[int], int | None] | None:
    """One batch's strings as columns, new attributes, odd rows and the newest id; None if the
    strings do not split as they should (the batch is then read again, ``safe``)."""
    if safe:
        ids_text, codes_text, values, lengths_text, cases, labels, metas = row[:7]
    else:
        ids_text, codes_text, values, cases, labels, metas = row[:6]
        lengths_text = None
    count, marked, newest = row[-3:]
    if not count:
        return [], [], [], newest
    sep = "," if safe else _ROW_SEP
    columns_of_attributes = [cases.split(sep), labels.split(sep), metas.split(sep)]
    if (marked and not safe) or any(len(c) != count for c in columns_of_attributes):
        return None
    ids = _ints(ids_text, count)
    codes = _ints(codes_text, count)
    type_codes = codes & 7
    expected = _WIDTHS[type_codes]
    lengths = expected if lengths_text is None else _ints(lengths_text, count)
    if int(lengths.sum()) != len(values):  # a value of the wrong length: read it again, safe
        return None
    keys = list(zip(*columns_of_attributes, strict=True))
    del columns_of_attributes
    new_keys = [key for key in dict.fromkeys(keys) if key not in interned]
    new_attributes = [_attributes(key, safe=safe) for key in new_keys]
    for key in new_keys:
        interned[key] = len(interned)
    attributes = np.array(list(map(interned.__getitem__, keys)), dtype=np.int64)
    type_codes[lengths != expected] = 0  # the wrong length: an odd row
    columns, odd = _split_columns(ids, codes >> 3, attributes, type_codes, lengths, values)
    return columns, new_attributes, odd, newest


def _ints(text: str, count: int) -> npt.NDArray[np.int64]:
    """Comma-separated decimal integers."""
    if count < 64:
        parsed = np.array(text.split(","), dtype=np.int64)
    else:
        parsed = np.fromstring(text, dtype=np.int64, sep=",")
    if len(parsed) != count:
        raise ValueError("malformed id list from the database")
    return parsed


def _attributes(key: tuple[str, str, str], *, safe: bool) -> Attributes:
    """An interned attribute key as (case id, label, metadata)."""
    fields: list[str | None] = []
    for part in key:
        if safe:
            fields.append(None if part == "-" else bytes.fromhex(part).decode("utf-8"))
        else:
            fields.append(None if part == _NULL else part)
    case_id, label, meta = fields
    return case_id, label, (dict(_json_dict(meta)) if meta is not None else {})


def _split_columns(
    ids: npt.NDArray[np.int64],
    bank_ids: npt.NDArray[np.int64],
    attributes: npt.NDArray[np.int64],
    type_codes: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    values: str,
) -> tuple[list[HashColumns], list[int]]:
    """Per hash type, the rows whose value decodes; the ids of every other row (type code 0:
    a value of the wrong length, 7: a video)."""
    odd: list[int] = ids[_WIDTHS[type_codes] == 0].tolist()
    columns: list[HashColumns] = []
    text = values.encode("ascii", errors="replace")
    start = np.cumsum(lengths) - lengths
    for code, hash_type in _COLUMN_TYPES.items():
        rows = np.flatnonzero(type_codes == code)
        if not len(rows):
            continue
        chars = hash_type.hex_len
        if len(rows) * chars == len(text):  # every value of the batch is of this type
            hex_text = text
        else:
            index = start[rows][:, None] + np.arange(chars)
            hex_text = np.frombuffer(text, dtype=np.uint8)[index].tobytes()
        decoded, bad = _decode(hex_text, chars)
        keep = np.ones(len(rows), dtype=np.bool_)
        keep[bad] = False
        flat = decoded.reshape(len(rows), chars // 2)
        words = flat.view(np.uint64)  # every type's bytes are a multiple of 8
        degenerate = np.all(words == 0, axis=1) | np.all(words == np.uint64(2**64 - 1), axis=1)
        keep &= ~degenerate
        if not keep.all():
            odd.extend(ids[rows[~keep]].tolist())
            rows, flat = rows[keep], flat[keep]
        if len(rows):
            columns.append(
                HashColumns(hash_type, ids[rows], bank_ids[rows], attributes[rows], flat)
            )
    odd.sort()
    return columns, odd


def _decode(hex_text: bytes, chars: int) -> tuple[npt.NDArray[np.uint8], list[int]]:
    """Fixed-width hex values to bytes; the rows that are not hexadecimal are zeros and named."""
    try:
        raw = bytes.fromhex(hex_text.decode("ascii"))
        if len(raw) * 2 == len(hex_text):  # else there was whitespace, which fromhex skips
            return np.frombuffer(raw, dtype=np.uint8), []
    except ValueError:
        pass
    size = chars // 2
    out = np.zeros(len(hex_text) // chars * size, dtype=np.uint8)
    bad: list[int] = []
    for row in range(len(hex_text) // chars):
        piece = hex_text[row * chars : (row + 1) * chars].decode("ascii")
        try:
            raw = bytes.fromhex(piece)
        except ValueError:
            raw = b""
        if len(raw) == size and len(piece) == chars:
            out[row * size : (row + 1) * size] = np.frombuffer(raw, dtype=np.uint8)
        else:
            bad.append(row)
    return out, bad
