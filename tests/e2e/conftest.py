"""Shared fixtures of the CLI tests: a config on a temporary SQLite store seeded with hits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import main
from tests.e2e.seeded import Seeded, seed

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return seed(tmp_path / "data")


@pytest.fixture
def seeded_cli(
    tmp_path: Path,
    seeded: Seeded,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    """``run(*args)``: the CLI on the seeded store, local time Asia/Seoul; (code, out, err)."""
    config = tmp_path / "seeded.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[logging]\nlevel = "warning"\n'
        '[reports]\ntimezone = "Asia/Seoul"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("MONITOR_USER", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["--config", str(config), *args])
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run
