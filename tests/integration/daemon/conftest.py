"""The real daemon, the real Telethon client, the loopback MTProto server and an SQLite store.

``env`` gives a test everything (see :mod:`tests.integration.daemon.harness`): the server's
``world``, a signed-in monitoring account, a config file pointing at the server, a bank listing
the PDQ of some generated photos, and helpers to run the daemon once (``run_once``), to run it in
the background (``running``) or as a child process (``spawn``), and to read the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.daemon.harness import Env, make_env
from tests.integration.telegram_harness.conftest import telegram_server, world  # noqa: F401
from tests.telegram_server import TelegramTestServer, World


@pytest.fixture
async def env(
    telegram_server: TelegramTestServer,  # noqa: F811
    world: World,  # noqa: F811
    tmp_path: Path,
) -> Env:
    return await make_env(telegram_server, tmp_path)
