"""Wiring shared by the CLI commands: open the store with a checked schema, build the matcher."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from monitor.config import Settings
from monitor.domain import Bank, Thresholds
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
    banks: list[Bank] = await store.list_banks(counts=False)
    loader = Matcher.loader(banks)
    async for batch in store.iter_entry_columns():
        loader.add(batch)
        release_free_memory()  # the batch's strings, made in the database driver's thread
    return await asyncio.to_thread(loader.finish)


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
