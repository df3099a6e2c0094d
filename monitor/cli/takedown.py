"""`monitor takedown ...`: mark hits as reported, list takedowns, re-check them on Telegram."""

from __future__ import annotations

import sys
from typing import Any

import typer

from monitor.cli.filters import actor, chat_ids, period
from monitor.cli.output import print_json_line, short_time, table, write_csv
from monitor.cli.runcmd import daemon_for
from monitor.cli.state import run, state_of
from monitor.domain import RemovalStatus, ReviewStatus, Takedown, jsonable
from monitor.runtime import open_store
from monitor.takedown import PassResult
from monitor.telegram.refs import message_link

app = typer.Typer(no_args_is_help=True)

LIST_COLUMNS = [
    "id",
    "hit_id",
    "reported_to",
    "reference",
    "reported_by",
    "reported_at",
    "status",
    "last_checked_at",
    "last_outcome",
    "removed_at",
    "hours_to_removal",
    "chat_id",
    "channel_title",
    "channel_username",
    "message_id",
    "link",
]


@app.command("mark")
def mark(
    ctx: typer.Context,
    hit_ids: list[int] = typer.Argument(..., help="Hits whose messages were reported."),
    reported_to: str = typer.Option(
        ..., "--reported-to", help="Who the report went to (e.g. 'Telegram abuse', 'KCSC')."
    ),
    reference: str | None = typer.Option(
        None, "--reference", help="Their ticket or case number, or your letter's reference."
    ),
    by: str | None = typer.Option(
        None, "--by", help="Who reported (default: $MONITOR_USER, else the login name)."
    ),
) -> None:
    """Record that the messages of these hits were reported for removal; the daemon then
    re-checks them (`monitor takedown verify` checks now)."""
    state = state_of(ctx)
    who = actor(by)

    async def go() -> tuple[list[Takedown], dict[int, ReviewStatus]]:
        async with open_store(state.settings) as store:
            statuses = {h: (await store.get_hit(h)).review_status for h in dict.fromkeys(hit_ids)}
            done = await store.mark_reported(
                hit_ids, reported_to=reported_to, reference=reference, actor=who
            )
            return done, statuses

    takedowns, statuses = run(go())
    newest = max(t.reported_at for t in takedowns)
    for hit_id, t in zip(dict.fromkeys(hit_ids), takedowns, strict=True):
        where = t.link or (f"message {t.message_id}" if t.message_id is not None else "")
        if t.reported_at < newest:
            line = (
                f"hit {hit_id}: already reported to {t.reported_to} "
                f"on {short_time(t.reported_at, state.settings.reports.timezone)}"
            )
        else:
            line = f"hit {hit_id}: reported to {t.reported_to} (takedown {t.id}) {where}".rstrip()
        state.out.print(line, highlight=False)
        if statuses[hit_id] is not ReviewStatus.CONFIRMED:
            state.err.print(
                f"warning: hit {hit_id} is {statuses[hit_id].value}, not confirmed by review",
                highlight=False,
            )


@app.command("list")
def list_takedowns(
    ctx: typer.Context,
    status: list[RemovalStatus] | None = typer.Option(
        None, "--status", help="unchecked, up, removed or inaccessible (repeatable)."
    ),
    reported_to: str | None = typer.Option(None, "--reported-to", help="Only this recipient."),
    channel: list[str] | None = typer.Option(
        None, "--channel", help="Only this channel: @name, link, id or title (repeatable)."
    ),
    since: str | None = typer.Option(None, "--since", help="Reported at or after this date."),
    until: str | None = typer.Option(None, "--until", help="Reported before this date-time."),
    limit: int | None = typer.Option(None, "--limit", min=1),
    fmt: str = typer.Option("table", "--format", help="table, json (lines) or csv."),
) -> None:
    """Takedowns, newest report first, with where their removal stands."""
    state = state_of(ctx)
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("must be table, json or csv", param_hint="--format")
    start, end = period(since, until)

    async def go() -> list[Takedown]:
        async with open_store(state.settings) as store:
            return await store.list_takedowns(
                statuses=status or (),
                reported_to=reported_to,
                channels=await chat_ids(store, channel or ()),
                since=start,
                until=end,
                limit=limit,
            )

    takedowns = run(go())
    if fmt == "json":
        for t in takedowns:
            print_json_line(_flat(t))
        return
    if fmt == "csv":
        write_csv((_flat(t) for t in takedowns), LIST_COLUMNS, sys.stdout)
        return
    if not takedowns:
        state.out.print("No takedowns.")
        return
    tz = state.settings.reports.timezone
    table(
        state.out,
        None,
        ["id", "hit", "reported", "to", "status", "last check", "removed", "after", "message"],
        [
            [
                t.id,
                t.hit_id,
                short_time(t.reported_at, tz),
                t.reported_to,
                t.status.value,
                short_time(t.last_checked_at, tz),
                short_time(t.removed_at, tz),
                _hours(t),
                t.link or t.message_id,
            ]
            for t in takedowns
        ],
        wrap=("to", "message"),
    )


def _message(result: PassResult, sighting_id: int) -> str:
    target = result.targets.get(sighting_id)
    if target is None:
        return str(sighting_id)
    return message_link(target.chat_id, target.message_id, None)


def _flat(t: Takedown) -> dict[str, Any]:
    row: dict[str, Any] = jsonable(t)
    ttr = t.time_to_removal
    row["hours_to_removal"] = None if ttr is None else round(ttr.total_seconds() / 3600, 2)
    return row


def _hours(t: Takedown) -> str:
    ttr = t.time_to_removal
    if ttr is None:
        return ""
    hours = ttr.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


@app.command("verify")
def verify(
    ctx: typer.Context,
    hit_ids: list[int] | None = typer.Argument(
        None, help="Re-check these hits' messages (default: every reported message due)."
    ),
    everything: bool = typer.Option(
        False, "--all", help="Every reported message not known removed, however recently checked."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per message checked."),
) -> None:
    """Ask Telegram now whether reported messages are still up: deleted, media removed,
    channel private, channel gone, or still up. Results are kept with their history."""
    state = state_of(ctx)

    async def go() -> PassResult:
        async with daemon_for(state.settings, live=False, matching=False) as daemon:
            return await daemon.verify_takedowns(hit_ids or (), everything=everything)

    result = run(go())
    if as_json:
        for r in result.results:
            print_json_line(r)
        return
    if not result.results:
        state.out.print("Nothing to re-check: no reported message is due (use --all or ids).")
        return
    tz = state.settings.reports.timezone
    table(
        state.out,
        None,
        ["message", "outcome", "checked", "detail"],
        [
            [
                _message(result, r.sighting_id),
                r.outcome.value,
                short_time(r.checked_at, tz),
                r.detail,
            ]
            for r in result.results
        ],
        wrap=("detail",),
    )
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.outcomes.items()))
    state.out.print(
        f"{len(result.results)} message(s) checked: {counts}; {result.changed} takedown(s) "
        "changed status.",
        highlight=False,
    )
