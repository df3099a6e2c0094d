"""Wiring shared by the CLI commands: open the store with a checked schema, build the matcher."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from monitor.config import Settings
from monitor.domain import Bank, Entry, Thresholds
from monitor.errors import NotFound
from monitor.matching import Matcher
from monitor.matching.matcher import release_free_memory
from monitor.store import Store, create_engine, ensure_schema


@asynccontextmanager
async def open_store(settings: Settings, *, upgrade: bool | None = None) -> AsyncIterator[Store]:
    """An open Store whose schema is current (upgraded first when allowed), closed on exit."""
    engine = create_engine(
        settings.database_url,
        connect_timeout=settings.database.connect_timeout,
        echo=settings.database.echo,
    )
    try:
        await ensure_schema(
            engine, auto_upgrade=settings.database.auto_upgrade if upgrade is None else upgrade
        )
        yield Store(engine)
    finally:
        await engine.dispose()


async def load_matcher(store: Store) -> Matcher:
    """Build the in-memory index from every active entry of every bank.

    The store streams the entries as columns (no Python object per entry: ten million entries
    load in seconds); the indexes are built in a worker thread, so a running daemon's event
    loop goes on meanwhile (the old matcher keeps matching until this one replaces it).
    """
    # Taken first: a change committed while the entries stream in is applied again later.
    mark = await store.last_entry_event()
    banks: list[Bank] = await store.list_banks(counts=False)
    loader = Matcher.loader(banks)
    async for batch in store.iter_entry_columns():
        loader.add(batch)
        release_free_memory()  # the batch's strings, made in the database driver's thread
    matcher = await asyncio.to_thread(loader.finish)
    matcher.event_mark = mark
    return matcher


# List changes up to this many entry events are applied to the loaded matcher in place; more
# (a new list of millions) rebuild it.
INCREMENTAL_CHANGES = 100_000


async def pending_list_changes(store: Store, matcher: Matcher) -> int | None:
    """At most how many entry events the matcher has not applied; None when it cannot tell
    (built without a mark): then only a rebuild brings it up to date."""
    if matcher.event_mark is None:
        return None
    return max(0, await store.last_entry_event() - matcher.event_mark)


async def read_list_changes(store: Store, matcher: Matcher) -> tuple[list[Bank], list[Entry], int]:
    """What :func:`apply_list_changes` applies: the banks (settings, enabled), the entries
    changed since the matcher's mark in their current state, and the new mark."""
    assert matcher.event_mark is not None
    banks = await store.list_banks(counts=False)
    changed: list[Entry] = []
    mark = matcher.event_mark
    while True:
        entries, last = await store.entry_changes(mark)
        if last == mark:
            break
        changed.extend(entries)
        mark = last
    return banks, changed, mark


def apply_list_changes(matcher: Matcher, banks: list[Bank], entries: list[Entry], mark: int) -> int:
    """Apply what :func:`read_list_changes` read (no rebuild: added and changed entries
    replace their old version, withdrawn ones stop matching); how many entries it touched."""
    for bank in banks:
        matcher.set_bank(bank)
    matcher.add_entries(entries)
    matcher.event_mark = mark
    return len(entries)


async def ensure_bank(
    store: Store,
    settings: Settings,
    name: str,
    *,
    source: str | None = None,
    description: str | None = None,
    actor: str,
) -> Bank:
    """The bank, created with the configured default thresholds if new; an existing bank keeps
    its own thresholds, and only the source and description given are changed."""
    try:
        await store.get_bank(name)
        thresholds = None
    except NotFound:
        thresholds = default_thresholds(settings)
    bank = await store.upsert_bank(
        name, source=source, description=description, thresholds=thresholds
    )
    if thresholds is not None:
        await store.audit(actor, "bank.create", name, bank_details(bank))
    return bank


def bank_details(bank: Bank) -> dict[str, object]:
    """What the audit log keeps of a bank's settings."""
    t = bank.thresholds
    return {
        "source": bank.source,
        "description": bank.description,
        "enabled": bank.enabled,
        "thresholds": {
            "pdq": t.pdq,
            "pdq_near_exact": t.pdq_near_exact,
            "pdq_reoriented": t.pdq_reoriented,
            "phash": t.phash,
            "video_share": t.video_share,
            "clip_seconds": t.clip_seconds,
        },
    }


def default_thresholds(settings: Settings) -> Thresholds:
    m = settings.matching
    return Thresholds(
        pdq=m.pdq,
        pdq_near_exact=m.pdq_near_exact,
        pdq_reoriented=m.pdq_reoriented,
        phash=m.phash,
        video_share=m.video_share,
        clip_seconds=m.clip_seconds,
    )


def current_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"
