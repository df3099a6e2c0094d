"""`monitor health`: is the daemon ready? For container health checks, systemd and scripts."""

from __future__ import annotations

import typer

from monitor.cli.output import print_json_line
from monitor.cli.state import state_of
from monitor.errors import ConfigError
from monitor.health import probe_address, probe_ready


def health(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="The daemon's /readyz answer as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing; the exit code says."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds to wait for it."),
) -> None:
    """Ask the running daemon (`monitor run`, on this machine) whether it is ready: hash lists
    loaded, Telegram connected, updates received. Exit 0 ready, 1 not ready or not running."""
    settings = state_of(ctx).settings.observability
    if not settings.enabled:
        raise ConfigError(
            "observability.enabled", "is false: the daemon serves no health endpoint to ask"
        )
    if settings.port == 0:
        raise ConfigError(
            "observability.port", "is 0 (any free port): set a fixed port to ask the daemon"
        )
    host, port = probe_address(settings)
    result = probe_ready(host, port, timeout=timeout)
    if as_json:
        print_json_line({"ready": result.ready, "http_status": result.status, **result.body})
    elif not quiet:
        state_of(ctx).out.print(result.detail, markup=False, highlight=False)
    if not result.ready:
        raise typer.Exit(1)
