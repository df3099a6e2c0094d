"""`monitor channels add/list/remove` end to end, in process, on a temporary SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_settings
from monitor.domain import ChannelState
from monitor.runtime import open_store

Run = Callable[..., tuple[int, str, str]]


def write_config(path: Path, data_dir: Path, channels: list[str], tz: str = "UTC") -> Path:
    listed = ", ".join(json.dumps(c) for c in channels)
    path.write_text(
        f'data_dir = "{data_dir}"\n[logging]\nlevel = "warning"\n'
        f'[reports]\ntimezone = "{tz}"\n[telegram]\nchannels = [{listed}]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.toml", tmp_path / "data", [])


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str, config_path: Path | None = None) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["--config", str(config_path or config), *args])
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 1), out, err

    return run


def listed(cli: Run, *args: str, config_path: Path | None = None) -> list[dict[str, object]]:
    code, out, err = cli("channels", "list", "--format", "json", *args, config_path=config_path)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_add_list_remove(cli: Run) -> None:
    code, out, err = cli(
        "channels",
        "add",
        "@First_Chan",
        "https://t.me/+AbCdEfGh1234",
        "-1001234567890",
        "--by",
        "alice",
    )
    assert code == 0, err
    assert "added @first_chan" in out
    assert "added https://t.me/+AbCdEfGh1234" in out
    assert "added -1001234567890" in out
    assert "next start or reconcile" in out

    code, out, _ = cli("channels", "add", "t.me/first_chan")
    assert code == 0
    assert "@first_chan is already on the allow-list (pending)" in out
    assert "next start" not in out

    rows = listed(cli)
    assert [(r["ref"], r["ref_kind"], r["origin"], r["state"]) for r in rows] == [
        ("@first_chan", "username", "cli", "pending"),
        ("https://t.me/+AbCdEfGh1234", "invite", "cli", "pending"),
        ("-1001234567890", "id", "cli", "pending"),
    ]
    assert rows[0]["added_by"] == "alice"

    code, out, _ = cli("channels", "list")
    assert code == 0
    for word in ("ref", "kind", "origin", "state", "cursor", "last reconciled", "@first_chan"):
        assert word in out

    code, out, err = cli("channels", "remove", "https://t.me/first_chan", "--by", "bob")
    assert code == 0, err
    assert "removed @first_chan" in out
    assert [r["ref"] for r in listed(cli)] == ["https://t.me/+AbCdEfGh1234", "-1001234567890"]
    everything = listed(cli, "--all")
    assert (everything[0]["ref"], everything[0]["enabled"]) == ("@first_chan", False)
    code, out, _ = cli("channels", "list", "--all")
    assert "removed (pending)" in out


def test_bad_ref_adds_nothing_and_exits_4(cli: Run) -> None:
    code, out, err = cli("channels", "add", "@good_name", "https://example.com/x")
    assert code == 4
    assert "example.com" in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert listed(cli) == []
    code, out, _ = cli("channels", "list")
    assert "allow-list is empty" in out


def test_remove_unknown_is_exit_6(cli: Run) -> None:
    code, _, err = cli("channels", "remove", "@nobody_here")
    assert code == 6
    assert "'@nobody_here'" in err
    code, _, err = cli("channels", "remove", "-1009999999999")  # a negative id is no option
    assert code == 6
    assert "'-1009999999999'" in err


def test_bad_format_is_a_usage_error(cli: Run) -> None:
    code, _, err = cli("channels", "list", "--format", "csv")
    assert code == 2
    assert "--format" in err


def test_config_channels_are_synced_when_listed(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_config(tmp_path / "a.toml", data, ["@config_one", "t.me/config_two"])
    assert cli("channels", "add", "@from_cli", config_path=first)[0] == 0
    rows = listed(cli, config_path=first)
    assert [(r["ref"], r["origin"]) for r in rows] == [
        ("@from_cli", "cli"),
        ("@config_one", "config"),
        ("@config_two", "config"),
    ]
    # @config_two left the config: disabled at the next list; the CLI entry stays.
    second = write_config(tmp_path / "b.toml", data, ["@config_one"])
    assert [r["ref"] for r in listed(cli, config_path=second)] == ["@from_cli", "@config_one"]

    # Removing a config entry with the CLI warns that the config brings it back.
    code, out, err = cli("channels", "remove", "@config_one", config_path=second)
    assert code == 0
    assert "removed @config_one" in out
    assert "telegram.channels" in err
    assert [r["ref"] for r in listed(cli, config_path=second)] == ["@from_cli", "@config_one"]


def test_bad_ref_in_the_config_is_a_config_error(cli: Run, tmp_path: Path) -> None:
    bad = write_config(tmp_path / "bad.toml", tmp_path / "data", ["@ok_name", "not a channel!"])
    code, _, err = cli("channels", "list", config_path=bad)
    assert code == 3
    assert "telegram.channels" in err
    assert "not a channel!" in err


def test_list_shows_what_the_daemon_learnt_in_utc_and_local_time(cli: Run, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    cfg = write_config(tmp_path / "seoul.toml", tmp_path / "data", [], tz="Asia/Seoul")
    assert cli("channels", "add", "@seen_chan", config_path=cfg)[0] == 0

    async def resolve() -> None:
        settings = load_settings(cfg, env={})
        async with open_store(settings) as store:
            [entry] = await store.list_watched_channels()
            await store.set_channel_state(
                entry.id,
                ChannelState.ACTIVE,
                telegram_id=-1005551234,
                username="Seen_Chan",
                title="Seen Channel",
                joined=True,
            )
            await store.advance_cursor(
                -1005551234, 812, last_message_at=datetime(2024, 8, 26, 0, 30, tzinfo=UTC)
            )

    asyncio.run(resolve())
    code, out, _ = cli("channels", "list", config_path=cfg)
    assert code == 0
    for expected in ("active", "-1005551234", "@Seen_Chan", "Seen Channel", "812"):
        assert expected in out
    assert "2024-08-26 00:30 UTC (2024-08-26 09:30 KST)" in out
    [row] = listed(cli, config_path=cfg)
    assert (row["cursor"], row["last_message_at"]) == (812, "2024-08-26T00:30:00+00:00")
