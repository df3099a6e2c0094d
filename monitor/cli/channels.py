"""`monitor channels ...`: the allow-list of Telegram channels the daemon watches.

Entries come from two places: ``telegram.channels`` in the config file (kept in step with the
store whenever the list is shown, and by the daemon at start) and ``monitor channels add``.
Adding only records the reference; the daemon resolves and joins it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from monitor.cli.output import print_json_line, short_time, table
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import ChannelRef, WatchedChannel
from monitor.errors import ConfigError, InputError
from monitor.runtime import current_actor, open_store
from monitor.telegram.refs import parse_ref

app = typer.Typer(no_args_is_help=True)

DAEMON_NOTE = "The daemon resolves and joins new entries at its next start or reconcile pass."
# Bot-API ids are negative (-100...): let them through as arguments, not unknown options.
NEGATIVE_IDS = {"ignore_unknown_options": True}


@app.command("add", context_settings=NEGATIVE_IDS)
def add(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(
        ...,
        metavar="REF",
        help="@username, t.me/name, t.me/+HASH, t.me/joinchat/HASH or a numeric id.",
    ),
    by: str | None = typer.Option(None, "--by", help="Who adds (default: login name)."),
) -> None:
    """Put channels on the allow-list. Every reference is checked before any is added."""
    state = state_of(ctx)
    parsed = [parse_ref(text) for text in refs]  # InputError (exit 4) before any write
    results = run(_add(state.settings, parsed, by or current_actor()))
    for entry, created in results:
        if created:
            line = f"added {entry.ref}"
        else:
            line = f"{entry.ref} is already on the allow-list ({_state(entry)})"
        state.out.print(line, markup=False, highlight=False)
    if any(created for _, created in results):
        state.out.print(DAEMON_NOTE, markup=False, highlight=False)


async def _add(
    settings: Settings, refs: list[ChannelRef], actor: str
) -> list[tuple[WatchedChannel, bool]]:
    async with open_store(settings) as store:
        return [await store.add_watched_channel(r, origin="cli", actor=actor) for r in refs]


@app.command("remove", context_settings=NEGATIVE_IDS)
def remove(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ...,
        metavar="REF",
        help="The entry: its reference in any form, the channel's @username, id or title.",
    ),
    by: str | None = typer.Option(None, "--by", help="Who removes (default: login name)."),
) -> None:
    """Take a channel off the allow-list (kept, disabled, with its history)."""
    state = state_of(ctx)
    entry = run(_remove(state.settings, ref, by or current_actor()))
    state.out.print(f"removed {entry.ref}", markup=False, highlight=False)
    if entry.origin == "config" and entry.ref in _listed_in_config(state.settings):
        state.err.print(
            f"note: {entry.ref} is listed in the config file (telegram.channels): remove it "
            "there too, or it comes back the next time the config is read",
            markup=False,
            highlight=False,
        )


async def _remove(settings: Settings, ref: str, actor: str) -> WatchedChannel:
    async with open_store(settings) as store:
        return await store.remove_watched_channel(ref, actor=actor)


@app.command("list")
def list_channels(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="Also removed entries."),
    fmt: str = typer.Option("table", "--format", help="table or json (one object per line)."),
) -> None:
    """The allow-list: each entry's state, the channel it resolved to, and how far it is read.

    The config file's telegram.channels are brought into the list first. While daemons run,
    the table shows which one processes each channel (its lease).
    """
    state = state_of(ctx)
    if fmt not in ("table", "json"):
        raise typer.BadParameter("must be table or json", param_hint="--format")
    refs = config_refs(state.settings)
    entries, owners = run(_list(state.settings, refs, show_all))
    if fmt == "json":
        for entry in entries:
            print_json_line(entry)
        return
    if not entries:
        state.out.print(
            "The allow-list is empty. Add channels with: monitor channels add @name "
            "(or list them in telegram.channels in the config file).",
            markup=False,
            highlight=False,
        )
        return
    tz = state.settings.reports.timezone
    columns = ["id", "ref", "kind", "origin", "state", "detail", "telegram id", "username"]
    columns += ["title", "cursor", "last message", "last reconciled"]
    leased = bool(owners)
    if leased:
        columns.append("daemon")
    rows: list[list[Any]] = [
        [
            e.id,
            e.ref,
            e.ref_kind.value,
            e.origin,
            _state(e),
            e.state_detail,
            e.telegram_id,
            f"@{e.username}" if e.username else None,
            e.title,
            e.cursor or None,
            _when(e.last_message_at, tz),
            _when(e.last_reconciled_at, tz),
        ]
        + ([owners.get(e.telegram_id or 0)] if leased else [])
        for e in entries
    ]
    table(state.out, None, columns, rows, wrap=("detail", "title"))


async def _list(
    settings: Settings, refs: list[ChannelRef], show_all: bool
) -> tuple[list[WatchedChannel], dict[int, str]]:
    """The entries, and the daemon holding each leased chat now (``session@host:pid``)."""
    async with open_store(settings) as store:
        await store.sync_config_channels(refs, actor=current_actor())
        entries = await store.list_watched_channels(include_disabled=show_all)
        owners = {
            lease.chat_id: lease.owner.rsplit("/", 1)[0]
            for lease in await store.list_leases()
            if lease.held and lease.owner
        }
        return entries, owners


def config_refs(settings: Settings) -> list[ChannelRef]:
    """``telegram.channels``, parsed; a bad entry is a ConfigError naming the key."""
    refs = []
    for text in settings.telegram.channels:
        try:
            refs.append(parse_ref(text))
        except InputError as exc:
            raise ConfigError("telegram.channels", str(exc)) from None
    return refs


def _listed_in_config(settings: Settings) -> set[str]:
    """The normalised references in ``telegram.channels`` (bad ones ignored here)."""
    listed = set()
    for text in settings.telegram.channels:
        try:
            listed.add(str(parse_ref(text)))
        except InputError:
            continue
    return listed


def _state(entry: WatchedChannel) -> str:
    return entry.state.value if entry.enabled else f"removed ({entry.state.value})"


def _when(value: datetime | None, tz: str) -> str:
    """UTC, and the configured zone next to it when that is not UTC."""
    if value is None:
        return ""
    utc = short_time(value, "UTC")
    if tz in ("UTC", "Etc/UTC"):
        return utc
    return f"{utc} ({short_time(value, tz)})"
