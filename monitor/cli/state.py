"""What every command shares: the settings (loaded once, lazily) and the output consoles."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import typer
from rich.console import Console

from monitor.config import Settings, load_settings, secret_values
from monitor.logs import register_secret, setup_logging

T = TypeVar("T")


@dataclass
class CliState:
    config_path: str | None = None
    log_level: str | None = None
    out: Console = field(default_factory=lambda: _console(stderr=False))
    err: Console = field(default_factory=lambda: _console(stderr=True))
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            for secret in secret_values(self._settings):
                register_secret(secret)
            setup_logging(
                self.log_level or self._settings.logging.level, self._settings.logging.format
            )
        return self._settings


def _console(*, stderr: bool) -> Console:
    # On a terminal rich uses its real width; piped output gets room for a whole table row
    # (use --format csv or json for machine-readable output).
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=True, width=None if stream.isatty() else 160)


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # called without the root callback (tests of a sub-app)
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
