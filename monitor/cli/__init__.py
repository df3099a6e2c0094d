"""The command line. Thin: parse arguments, call the library, turn errors into exit codes.

Exit codes: 0 ok, 1 other monitor error, 2 usage, 3 config, 4 bad input, 5 database,
6 not found, 7 Telegram, 8 session revoked, 70 internal error (a bug: please report),
130 interrupted.
A user error prints one line on stderr and no traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer

from monitor.cli import (
    account,
    channels,
    db,
    demo,
    evidence,
    hashcmd,
    health,
    hits,
    lists,
    report,
    runcmd,
    scancmd,
    stats,
    takedown,
)
from monitor.cli.state import CliState
from monitor.errors import MonitorError

INTERNAL_ERROR = 70
INTERRUPTED = 130

app = typer.Typer(
    name="monitor",
    help="Find known abusive images re-posted in Telegram channels and track their takedown.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $MONITOR_CONFIG, else none)."
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", help="debug, info, warning or error (overrides the config)."
    ),
) -> None:
    ctx.obj = CliState(config_path=config, log_level=log_level)


app.command("hash", help="Print every hash of image files (no database needed).")(
    hashcmd.hash_files
)
app.command("scan", help="Scan files, folders and Telegram Desktop exports; record hits.")(
    scancmd.scan
)
app.command("run", help="The daemon: watch the allow-listed Telegram channels, record hits.")(
    runcmd.run_daemon
)
app.command("backfill", help="Process an allow-listed channel's history from a date.")(
    runcmd.backfill
)
app.command("health", help="Whether the running daemon is ready (exit 0) or not (exit 1).")(
    health.health
)
app.command("demo", help="Make test images and a hash list in code, scan them, show the hits.")(
    demo.demo
)
app.command("login", help="Sign the monitoring account in to Telegram (session kept in the DB).")(
    account.login
)
app.command("logout", help="Log out of Telegram and delete the stored session.")(account.logout)
app.command("whoami", help="Who the stored Telegram session is signed in as.")(account.whoami)
app.add_typer(
    lists.app, name="lists", help="Hash lists (banks): import, inspect, withdraw, export."
)
app.command("report", help="Export hits per channel to CSV, JSON or a self-contained HTML page.")(
    report.report
)
app.command("stats", help="Counts: hits, channels, coverage, flood waits, takedowns.")(stats.stats)
app.add_typer(hits.app, name="hits", help="Hits found so far: list, show, review.")
app.add_typer(
    takedown.app,
    name="takedown",
    help="Takedowns: mark hits reported, list them, re-check removal on Telegram.",
)
app.add_typer(channels.app, name="channels", help="The allow-list of Telegram channels to watch.")
app.add_typer(db.app, name="db", help="Database schema (Alembic migrations).")
app.add_typer(
    evidence.app,
    name="evidence",
    help="Optional sealed evidence store: make the key pair, open an item, purge old items.",
)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `monitor` console script and `python -m monitor`.

    Typer runs in standalone mode: it reports usage errors itself (exit 2) and ends with
    SystemExit. Our own errors come through as MonitorError and become one line and their code.
    """
    try:
        app(args=list(argv) if argv is not None else None, prog_name="monitor")
    except MonitorError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", INTERRUPTED)
    except Exception:
        traceback.print_exc()
        _fail("internal error (a bug): please report it with the traceback above", INTERNAL_ERROR)


def _fail(message: str, code: int) -> None:
    from monitor.logs import redact_text

    print(f"monitor: error: {redact_text(message)}", file=sys.stderr)
    sys.exit(code)
