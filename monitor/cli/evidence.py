"""`monitor evidence ...`: the optional sealed evidence store (see monitor.evidence)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from monitor.cli.state import state_of
from monitor.errors import ConfigError, InputError
from monitor.evidence import (
    EvidenceStore,
    generate_keypair,
    load_private_key,
    open_item,
    parse_public_key,
)

app = typer.Typer(no_args_is_help=True)


@app.command("keygen")
def keygen(
    ctx: typer.Context,
    private_key: Path = typer.Option(
        ..., "--private-key", help="Where to write the new private key (never overwritten)."
    ),
) -> None:
    """Make the unit's key pair. Run it on the machine that keeps the private key (not on the
    daemon host); put the printed public key in [evidence] public_key."""
    state = state_of(ctx)
    public = generate_keypair(private_key)
    state.out.print(
        f"private key written to {private_key} (mode 0600): keep it off the daemon host",
        markup=False,
    )
    state.out.print(f'public_key = "{public}"', markup=False, highlight=False)


@app.command("open")
def open_evidence(
    ctx: typer.Context,
    item: Path = typer.Argument(..., help="A .sealed file from the evidence folder."),
    private_key: Path = typer.Option(..., "--private-key", help="The unit's private key."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the media (0600)."),
) -> None:
    """Decrypt one item (checked against its SHA-256) and print its header."""
    state = state_of(ctx)
    opened = open_item(item, load_private_key(private_key))
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{output} exists; choose another --output") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(opened.data)
    state.out.print(json.dumps(opened.header, ensure_ascii=False), markup=False, highlight=False)


@app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Delete sealed items older than [evidence] retention_days."""
    state = state_of(ctx)
    settings = state.settings
    if not settings.evidence.public_key:
        raise ConfigError("evidence.public_key", "is not set: there is no evidence store")
    store = EvidenceStore(
        settings.evidence_dir,
        parse_public_key(settings.evidence.public_key),
        settings.evidence.retention_days,
    )
    removed = store.purge()
    state.out.print(
        f"{removed} item(s) older than {settings.evidence.retention_days} days deleted "
        f"from {settings.evidence_dir}",
        markup=False,
    )
