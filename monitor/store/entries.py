"""Banks (hash lists) and their entries: import, withdraw, stream, history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import String, Text, case, func, insert, literal, select, type_coerce, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from monitor.domain import Bank, Entry, EntryStatus, HashType, ListEntry, Thresholds
from monitor.errors import NotFound
from monitor.store._base import CHUNK, IN_CHUNK, StoreBase, chunks, sample
from monitor.store.models import BankRow, EntryEventRow, EntryRow, UTCDateTime, utcnow
from monitor.store.results import EntryEvent, EntryEventKind, ImportResult

ACTIVE = EntryStatus.ACTIVE.value
WITHDRAWN = EntryStatus.WITHDRAWN.value


@dataclass(slots=True)
class _Wanted:
    """The state a list asks for one (hash type, value), duplicates merged in file order."""

    status: str
    case_id: str | None
    label: str | None
    added_at: datetime | None
    metadata: dict[str, str]

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

    async def list_banks(self) -> list[Bank]:
        """Every bank by name, with its active and withdrawn entry counts."""
        async with self._tx(write=False) as conn:
            counts = await self._entry_counts(conn, None)
            rows = await conn.execute(select(*_BANK_COLUMNS).order_by(BankRow.name))
            return [_bank(row._mapping, counts.get(row.id, {})) for row in rows]

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
        """
        wanted: dict[tuple[str, str], _Wanted] = {}
        for entry in entries:
            key = (entry.hash_type.value, entry.value.lower())
            have = wanted.get(key)
            if have is None:
                wanted[key] = _Wanted(
                    entry.status.value, entry.case_id, entry.label, entry.added_at, entry.metadata
                )
            else:
                have.merge(entry)

        counts = dict.fromkeys(EntryEventKind, 0)
        unchanged = 0
        async with self._tx(write=True) as conn:
            now = utcnow()
            # Locks the bank row on PostgreSQL: imports into one bank run one after the other.
            bank_id = await self._bank_id(conn, bank, lock=True)
            dt, js = self._binder(EntryRow, "added_at"), self._binder(EntryRow, "metadata")
            raw_now = dt(now)
            updates: list[tuple[Any, ...]] = []
            events: list[tuple[Any, ...]] = []

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
                for entry_id, hash_type, value, status, case_id, label, added, meta in partition:
                    want = wanted.pop((hash_type, value), None)
                    if want is None:
                        continue
                    new_case = want.case_id if want.case_id is not None else case_id
                    new_label = want.label if want.label is not None else label
                    new_added = dt(want.added_at) if want.added_at is not None else added
                    new_meta = meta
                    if want.metadata:
                        old_meta = _json_dict(meta)
                        merged = {**old_meta, **want.metadata}
                        if merged != old_meta:
                            new_meta = js(merged)
                    if (want.status, new_case, new_label, new_added, new_meta) == (
                        status,
                        case_id,
                        label,
                        added,
                        meta,
                    ):
                        unchanged += 1
                        continue
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

            await self._bulk_update(
                conn,
                EntryRow,
                ("status", "case_id", "label", "added_at", "metadata", "updated_at"),
                updates,
            )
            await self._bulk_insert(conn, EntryEventRow, _EVENT_COLUMNS, events)

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

            result_ = ImportResult(
                bank=bank,
                source=source,
                added=counts[EntryEventKind.ADDED],
                updated=counts[EntryEventKind.UPDATED],
                withdrawn=counts[EntryEventKind.WITHDRAWN],
                reinstated=counts[EntryEventKind.REINSTATED],
                unchanged=unchanged,
            )
            await self._audit(
                conn,
                actor,
                "entries.import",
                bank,
                {
                    "source": source,
                    "lines": len(entries),
                    "added": result_.added,
                    "updated": result_.updated,
                    "withdrawn": result_.withdrawn,
                    "reinstated": result_.reinstated,
                    "unchanged": result_.unchanged,
                },
            )
            return result_

    async def _insert_entries(self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert one chunk of new entries (values in the driver's form, see import_entries)."""
        await self._bulk_insert(conn, EntryRow, _ENTRY_INSERT_COLUMNS, rows)

    async def withdraw_entries(
        self, bank: str, values: Sequence[str], *, reason: str, actor: str
    ) -> int:
        """Withdraw entries of ``bank`` by value (any hash type); how many were active.

        Unknown values raise ``NotFound`` naming them, and nothing is withdrawn.
        """
        wanted = list(dict.fromkeys(v.strip().lower() for v in values))
        async with self._tx(write=True) as conn:
            now = utcnow()
            bank_id = await self._bank_id(conn, bank)
            found: dict[str, list[tuple[int, str]]] = {}
            for some_values in chunks(wanted, IN_CHUNK):
                rows = await conn.execute(
                    select(EntryRow.id, EntryRow.value, EntryRow.status).where(
                        EntryRow.bank_id == bank_id, EntryRow.value.in_(some_values)
                    )
                )
                for row in rows:
                    found.setdefault(row.value, []).append((row.id, row.status))
            missing = [v for v in wanted if v not in found]
            if missing:
                raise NotFound(f"{len(missing)} value(s) not in bank {bank!r}: {sample(missing)}")
            ids = [i for pairs in found.values() for i, status in pairs if status == ACTIVE]
            for some_ids in chunks(ids, IN_CHUNK):
                await conn.execute(
                    update(EntryRow)
                    .where(EntryRow.id.in_(some_ids))
                    .values(status=WITHDRAWN, updated_at=now)
                )
            events = [_event(i, EntryEventKind.WITHDRAWN, reason, None, actor, now) for i in ids]
            for some_events in chunks(events, CHUNK):
                await conn.execute(insert(EntryEventRow), list(some_events))
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
            for row in rows:
                yield _entry(row._mapping, names[row.bank_id])
            if len(rows) < batch:
                return
            last = rows[-1].id

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
        return _entry(row._mapping, row.name)

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


def _threshold_columns(t: Thresholds) -> dict[str, int]:
    return {
        "pdq_threshold": t.pdq,
        "pdq_near_exact_threshold": t.pdq_near_exact,
        "pdq_reoriented_threshold": t.pdq_reoriented,
        "phash_threshold": t.phash,
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
        ),
        active_entries=counts.get(ACTIVE, 0),
        withdrawn_entries=counts.get(WITHDRAWN, 0),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_HASH_TYPES = {h.value: h for h in HashType}
_STATUSES = {s.value: s for s in EntryStatus}


def _entry(row: RowMapping, bank: str) -> Entry:
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
    )
