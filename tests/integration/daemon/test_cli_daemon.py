"""`monitor run`, `monitor run --once` and `monitor backfill` through the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from monitor.cli import main
from tests.integration.daemon.harness import Env, eventually


async def _cli(env: Env, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    def call() -> int:
        try:
            main(["--config", str(env.config_path), *args])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    code = await asyncio.to_thread(call)
    out, err = capsys.readouterr()
    return code, out, err


async def test_run_once_and_backfill_from_the_command_line(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    code, out, err = await _cli(env, "channels", "add", "@feed", capsys=capsys)
    assert code == 0, err
    code, out, err = await _cli(env, "run", "--once", capsys=capsys)
    assert code == 0, err
    assert "1 channel(s) reconciled" in out
    assert "1 new hit(s)" in out
    code, out, err = await _cli(env, "backfill", "@feed", "--since", "2000-01-01", capsys=capsys)
    assert code == 0, err
    assert "1 message(s) with media processed" in out
    code, out, err = await _cli(
        env, "backfill", "@unknown_chan", "--since", "2000-01-01", capsys=capsys
    )
    assert code == 6
    assert "not on the allow-list" in err


async def test_run_exit_codes_for_revoked_and_missing_sessions(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.world.revoke_session(env.user)
    code, out, err = await _cli(env, "run", "--once", capsys=capsys)
    assert code == 8
    assert "monitor login" in err
    env.configure(telegram={"session": "never-logged-in"})
    code, out, err = await _cli(env, "run", "--once", capsys=capsys)
    assert code == 7
    assert "not logged in" in err
    assert env.settings.telegram.api_hash not in out + err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_to_the_process_group_drains_and_exits_0(
    env: Env, signum: signal.Signals
) -> None:
    """As a service manager or Ctrl-C does: every process of the group gets the signal; the
    hashing workers must outlive it until the daemon has drained."""
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_photo(channel, env.listed[1])
    await env.watch("@feed")
    env.configure(logging={"level": "info", "format": "json"}, telegram={"hash_workers": 1})
    proc = await env.spawn("run")
    try:

        async def cursor() -> int:
            async with env.store() as store:
                return await store.get_cursor(channel.marked_id)

        await eventually(cursor, seconds=30)
        os.killpg(proc.pid, signum)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "Traceback" not in err.decode()
    events = [
        json.loads(line)["event"] for line in err.decode().splitlines() if line.startswith("{")
    ]
    assert "stop_requested" in events
    assert events[-1] == "daemon_stopped"
    async with env.store() as store:
        assert len(await store.list_hits()) == 1
