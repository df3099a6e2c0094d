"""Fixtures for the account commands and the SQL-backed session against the loopback server.

The loopback MTProto server fixtures come from the Telegram harness; the store fixtures
(``store``, ``store_url``: SQLite and PostgreSQL) from ``tests/integration/conftest.py``.

- ``config_path``: a TOML config pointing at the loopback server (its RSA key in a PEM file)
  and at a fresh database of the current backend.
- ``cli``: ``await cli("whoami", prompts=[...])`` runs ``monitor.cli.main`` in a thread (the
  server keeps running on the test's loop) with ``typer.prompt`` answered from ``prompts``;
  returns ``CliResult(code, out, err, asked)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from monitor.cli import main
from monitor.config import Settings, load_settings
from tests.integration.telegram_harness.conftest import (  # noqa: F401
    client,
    make_client,
    telegram_server,
    test_user,
    world,
)
from tests.telegram_server import TelegramTestServer

CLI_TIMEOUT = 30


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    asked: list[tuple[str, bool]] = field(default_factory=list)  # (prompt, hidden)

    @property
    def text(self) -> str:
        return self.out + self.err


Cli = Callable[..., Awaitable[CliResult]]


def write_config(
    path: Path, server: TelegramTestServer, database_url: str, *, extra: str = ""
) -> Path:
    pem = path.parent / "server.pem"
    pem.write_text(server.public_key_pem, "utf-8")
    path.write_text(
        f"""data_dir = "{path.parent / "data"}"
[database]
url = "{database_url}"
[logging]
level = "debug"
format = "json"
[telegram]
api_id = 1
api_hash = "00112233445566778899aabbccddeeff"
{extra}
[telegram.server]
host = "{server.host}"
port = {server.port}
dc_id = {server.dc_id}
public_key = "{pem}"
""",
        "utf-8",
    )
    return path


@pytest.fixture
def config_path(
    tmp_path: Path,
    telegram_server: TelegramTestServer,  # noqa: F811 (the fixture imported above)
    store_url: str,
) -> Path:
    return write_config(tmp_path / "config.toml", telegram_server, store_url)


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return load_settings(config_path, env={})


@pytest.fixture
def cli(
    config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    async def run(*args: str, prompts: Iterable[str] = (), config: Path | None = None) -> CliResult:
        answers = iter(prompts)
        asked: list[tuple[str, bool]] = []

        def prompt(text: str, *_: Any, hide_input: bool = False, **__: Any) -> str:
            asked.append((text, hide_input))
            try:
                return next(answers)
            except StopIteration:
                raise AssertionError(f"unexpected prompt {text!r}") from None

        monkeypatch.setattr(typer, "prompt", prompt)
        argv = ["--config", str(config or config_path), *args]

        def call() -> int:
            try:
                main(argv)
            except SystemExit as exc:
                return exc.code if isinstance(exc.code, int) else 1
            return 0

        code = await asyncio.wait_for(asyncio.to_thread(call), CLI_TIMEOUT)
        out, err = capsys.readouterr()
        return CliResult(code, out, err, asked)

    return run
