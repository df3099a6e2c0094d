"""`monitor run` (the daemon, or one pass with --once) and `monitor backfill`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import typer

from monitor.cli.filters import parse_when
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.daemon import Daemon, RunSummary
from monitor.domain import jsonable
from monitor.errors import InputError
from monitor.logs import get_logger
from monitor.matching import Matcher
from monitor.pipeline import PoolHasher
from monitor.runtime import load_matcher, open_store
from monitor.telegram.client import build_client, open_session
from monitor.telegram.refs import parse_ref

log = get_logger(__name__)


def run_daemon(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="Reconcile every channel, process everything, then exit (cron)."
    ),
) -> None:
    """Watch the allow-listed channels and record hits until SIGINT/SIGTERM."""
    state = state_of(ctx)
    summary = run(_run(state.settings, once=once))
    if once:
        c = summary.counters
        state.out.print(
            f"{summary.channels} channel(s) reconciled: {c.get('messages', 0)} message(s) with "
            f"media, {c.get('sightings_new', 0)} new sighting(s) "
            f"({c.get('sightings_known', 0)} already recorded), {c.get('hits', 0)} new hit(s), "
            f"{sum(v for k, v in c.items() if k.startswith('skipped_'))} skipped."
        )


def backfill(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="An allow-listed channel: @name, link or id."),
    since: str = typer.Option(
        ...,
        "--since",
        help="From this date/time (ISO 8601 or YYYY-MM-DD, UTC unless an offset is given).",
    ),
    until: str | None = typer.Option(None, "--until", help="Up to this date/time (exclusive)."),
) -> None:
    """Process a channel's history from a date (the cursor is not moved)."""
    state = state_of(ctx)
    channel = parse_ref(ref)
    start = parse_when(since, "--since")
    end = parse_when(until, "--until", end=True)
    assert start is not None  # a required option
    if start > datetime.now(UTC):
        raise InputError("--since is in the future")
    if end is not None and end <= start:
        raise InputError("--until must be after --since")

    async def go() -> int:
        async with daemon_for(state.settings, live=False) as daemon:
            return await daemon.backfill(channel, start, end)

    count = run(go())
    state.out.print(f"{count} message(s) with media processed from {channel}.")


async def _run(settings: Settings, *, once: bool) -> RunSummary:
    async with daemon_for(settings, live=not once) as daemon:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
                loop.add_signal_handler(sig, daemon.request_stop)
        try:
            return await daemon.run(once=once)
        finally:
            for sig in signals:
                with suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)


@asynccontextmanager
async def daemon_for(
    settings: Settings, *, live: bool, matching: bool = True
) -> AsyncIterator[Daemon]:
    """A daemon on the configured store, session and server. Without ``live`` the client
    receives no updates (one pass, backfill, re-checks): history requests only. Without
    ``matching`` no hash list is loaded and nothing is hashed (takedown re-checks)."""
    tg = settings.telegram
    async with open_store(settings) as store:
        session = await open_session(store, settings.telegram, persist_updates=live)
        client = build_client(tg, session, receive_updates=live, catch_up=live)
        if matching:
            matcher = await load_matcher(store)
            log.info("hash_lists_loaded", **jsonable(matcher.stats()))
        else:
            matcher = Matcher()
        workers = (tg.hash_workers or None) if matching else 0
        with PoolHasher(settings.hashing, workers=workers) as hasher:
            warm = await hasher.start()
            if hasher.workers:
                log.info("hashing_workers_started", workers=hasher.workers, seconds=round(warm, 2))
            yield Daemon(settings, store, client, hasher, matcher, session_flush=session.flush)
