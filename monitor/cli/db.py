"""`monitor db ...`: the database schema, managed by Alembic migrations shipped in the package."""

from __future__ import annotations

import typer

from monitor.cli.state import run, state_of
from monitor.store import schema

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
) -> None:
    """Bring the schema up to REVISION (creates the database file on SQLite)."""
    state = state_of(ctx)
    url = state.settings.database_url
    run(schema.upgrade(url, revision))
    state.out.print(f"schema at {run(schema.current(url))}", markup=False, highlight=False)


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Target revision, e.g. base or -1."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask: downgrading can drop data."),
) -> None:
    """Take the schema back to REVISION. Downgrading can drop tables and the data in them."""
    state = state_of(ctx)
    if not yes:
        typer.confirm(f"Downgrade the schema to {revision}? This can drop data.", abort=True)
    url = state.settings.database_url
    run(schema.downgrade(url, revision))
    state.out.print(f"schema at {run(schema.current(url)) or 'base (empty)'}", markup=False)


@app.command("current")
def current(ctx: typer.Context) -> None:
    """The schema revision of the database, and the newest this version knows."""
    state = state_of(ctx)
    url = state.settings.database_url
    at = run(schema.current(url))
    head = schema.head()
    note = "up to date" if at == head else f"this version's newest is {head}"
    state.out.print(f"{at or 'empty (no schema)'} ({note})", markup=False, highlight=False)
