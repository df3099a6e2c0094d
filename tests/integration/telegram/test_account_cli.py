"""`monitor login`, `logout`, `whoami` through the CLI entry point, against the loopback server,
with the session kept in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from monitor.store import Store
from tests.integration.telegram.conftest import Cli, CliResult, write_config
from tests.telegram_server import TelegramTestServer, UserRecord, World


@pytest.fixture
def analyst(world: World) -> UserRecord:
    return world.create_user("+15550100", "24680", first_name="Analyst", username="analyst")


async def stored_key(store: Store) -> bytes:
    data = await store.load_session("default")
    assert data is not None
    assert data.auth_key
    return data.auth_key


def assert_secret_free(result: CliResult, *secrets: bytes | str) -> None:
    for secret in secrets:
        needles = [secret.hex()[:32], repr(secret)[2:40]] if isinstance(secret, bytes) else [secret]
        for needle in needles:
            assert needle not in result.text


async def login(cli: Cli, user: UserRecord) -> CliResult:
    result = await cli("login", "--phone", f"+{user.phone}", prompts=[user.code or ""])
    assert result.code == 0, result.err
    return result


async def test_login_with_phone_and_code(
    cli: Cli, analyst: UserRecord, store: Store, world: World
) -> None:
    result = await login(cli, analyst)
    assert (
        f"Signed in as Analyst (@analyst, id {analyst.id}) — session 'default' stored in the "
        "database"
    ) in result.out
    assert result.asked == [("Login code", False)]
    assert "+15••••00" in result.err  # where the code went, masked
    assert "15550100" not in result.text
    account = await store.get_account("default")
    assert account is not None
    assert (account.state, account.user_id, account.username) == ("active", analyst.id, "analyst")
    assert account.display_name == "Analyst"
    assert not account.is_bot
    assert_secret_free(result, await stored_key(store))
    assert world.request_count("auth.signIn") == 1


async def test_login_prompts_for_the_phone(cli: Cli, analyst: UserRecord) -> None:
    result = await cli("login", prompts=["+15550100", "24680"])
    assert result.code == 0, result.err
    assert [text.split(" (")[0] for text, _ in result.asked] == [
        "Phone number of the monitoring account",
        "Login code",
    ]


async def test_wrong_code_is_asked_again(cli: Cli, analyst: UserRecord, world: World) -> None:
    result = await cli("login", "--phone", "+15550100", prompts=["11111", "24680"])
    assert result.code == 0, result.err
    assert "That code is wrong: try again." in result.err
    assert world.request_count("auth.signIn") == 2


async def test_three_wrong_codes_give_up(cli: Cli, analyst: UserRecord, store: Store) -> None:
    result = await cli("login", "--phone", "+15550100", prompts=["1", "2", "3"])
    assert result.code == 4
    assert "wrong or expired code 3 times" in result.err
    account = await store.get_account("default")
    assert account is not None
    assert (account.state, account.state_reason) == ("logged_out", "sign-in not completed")
    whoami = await cli("whoami")
    assert whoami.code == 7
    assert "not logged in" in whoami.err


async def test_unknown_phone_number(cli: Cli, analyst: UserRecord) -> None:
    result = await cli("login", "--phone", "+15559999")
    assert result.code == 4
    assert "does not accept this phone number" in result.err


async def test_two_step_password(cli: Cli, world: World, store: Store) -> None:
    user = world.create_user("+15550111", "11111", first_name="Second", password="hunter22")
    result = await cli(
        "login", "--phone", "+15550111", prompts=["11111", "wrong-guess", "hunter22"]
    )
    assert result.code == 0, result.err
    assert result.asked == [
        ("Login code", False),
        ("2FA password", True),
        ("2FA password", True),
    ]
    assert "That password is wrong: try again." in result.err
    assert "hunter22" not in result.text
    account = await store.get_account("default")
    assert account is not None
    assert account.user_id == user.id
    assert world.request_count("auth.checkPassword") == 2


async def test_bot_token_from_the_environment(
    cli: Cli, world: World, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = world.create_bot(username="takedown_bot")
    assert bot.bot_token
    monkeypatch.setenv("MONITOR_TELEGRAM_BOT_TOKEN", bot.bot_token)
    result = await cli("login", "--bot")
    assert result.code == 0, result.err
    assert result.asked == []
    assert f"(@takedown_bot, id {bot.id})" in result.out
    assert bot.bot_token not in result.text
    account = await store.get_account("default")
    assert account is not None
    assert account.is_bot


async def test_bot_token_from_a_hidden_prompt(
    cli: Cli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TELEGRAM_BOT_TOKEN", raising=False)
    bot = world.create_bot(username="takedown_bot")
    assert bot.bot_token
    result = await cli("login", "--bot", prompts=[bot.bot_token])
    assert result.code == 0, result.err
    assert result.asked == [("Bot token (from @BotFather)", True)]
    assert bot.bot_token not in result.text
    bad = await cli("logout")
    assert bad.code == 0
    wrong = await cli("login", "--bot", prompts=["123:not-a-token"])
    assert wrong.code == 4
    assert "does not accept this bot token" in wrong.err


async def test_bot_and_phone_exclude_each_other(cli: Cli) -> None:
    result = await cli("login", "--bot", "--phone", "+15550100")
    assert result.code == 2


async def test_login_when_already_signed_in(cli: Cli, analyst: UserRecord, world: World) -> None:
    await login(cli, analyst)
    again = await cli("login", "--phone", "+15550100")
    assert again.code == 0
    assert "Already signed in as Analyst (@analyst" in again.out
    assert again.asked == []
    assert world.request_count("auth.sendCode") == 1


async def test_whoami(cli: Cli, analyst: UserRecord, telegram_server: TelegramTestServer) -> None:
    await login(cli, analyst)
    text = await cli("whoami")
    assert text.code == 0, text.err
    lines = dict(line.split(None, 1) for line in text.out.splitlines() if line.strip())
    assert lines["session"].strip() == "default"
    assert lines["state"].strip() == "active"
    assert lines["username"].strip() == "@analyst"
    assert lines["bot"].strip() == "no"
    server = f"DC {telegram_server.dc_id}, 127.0.0.1:{telegram_server.port}"
    assert server in text.out
    as_json = await cli("whoami", "--json")
    assert as_json.code == 0
    data = json.loads(as_json.out)
    assert data["session"] == "default"
    assert data["state"] == "active"
    assert data["user_id"] == analyst.id
    assert data["username"] == "analyst"
    assert data["display_name"] == "Analyst"
    assert data["is_bot"] is False
    assert data["dc_id"] == telegram_server.dc_id
    assert data["server_address"] == "127.0.0.1"
    assert data["port"] == telegram_server.port
    assert "auth_key" not in data


async def test_whoami_without_a_session(cli: Cli) -> None:
    result = await cli("whoami")
    assert result.code == 7
    assert "not logged in: run `monitor login`" in result.err


async def test_logout(cli: Cli, analyst: UserRecord, world: World, store: Store) -> None:
    await login(cli, analyst)
    result = await cli("logout")
    assert result.code == 0, result.err
    assert "Logged out of Telegram; session 'default' deleted from the database." in result.out
    assert world.request_count("auth.logOut") == 1
    assert all(record.user_id is None for record in world.auth_keys.values())
    assert await store.load_session("default") is None
    account = await store.get_account("default")
    assert account is not None
    assert account.state == "logged_out"
    whoami = await cli("whoami")
    assert whoami.code == 7
    assert "not logged in" in whoami.err
    again = await cli("logout")
    assert again.code == 0
    assert "nothing to log out" in again.out
    assert world.request_count("auth.logOut") == 1


async def test_logout_after_revocation_still_deletes(
    cli: Cli, analyst: UserRecord, world: World, store: Store
) -> None:
    await login(cli, analyst)
    world.revoke_session(analyst)
    result = await cli("logout")
    assert result.code == 0, result.err
    assert "no longer valid at Telegram" in result.out
    assert await store.load_session("default") is None


async def test_revoked_session(cli: Cli, analyst: UserRecord, world: World, store: Store) -> None:
    first = await login(cli, analyst)
    key = await stored_key(store)
    world.revoke_session(analyst)
    result = await cli("whoami")
    assert result.code == 8
    assert "revoked" in result.err
    assert "run `monitor login` again" in result.err
    account = await store.get_account("default")
    assert account is not None
    assert (account.state, account.state_reason) == ("revoked", "revoked")
    assert_secret_free(first, key)
    assert_secret_free(result, key)
    # The daemon's staff follow the advice: a new login, with a new key.
    again = await login(cli, analyst)
    assert "Signed in as Analyst" in again.out
    assert await stored_key(store) != key
    ok = await cli("whoami")
    assert ok.code == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [("AUTH_KEY_UNREGISTERED", "unregistered"), ("USER_DEACTIVATED", "deactivated")],
)
async def test_other_fatal_auth_errors(
    cli: Cli, analyst: UserRecord, world: World, store: Store, error: str, reason: str
) -> None:
    await login(cli, analyst)
    world.revoke_session(analyst, error=error)
    result = await cli("whoami")
    assert result.code == 8
    assert f"({reason})" in result.err
    account = await store.get_account("default")
    assert account is not None
    assert account.state_reason == reason


async def test_forgotten_auth_key(
    cli: Cli, analyst: UserRecord, world: World, store: Store
) -> None:
    await login(cli, analyst)
    assert world.forget_auth_key(analyst) == 1
    result = await cli("whoami")
    assert result.code == 8
    assert "auth key not found" in result.err
    account = await store.get_account("default")
    assert account is not None
    assert account.state == "revoked"


async def test_another_account_on_the_same_session_starts_afresh(
    cli: Cli, analyst: UserRecord, world: World, store: Store
) -> None:
    await login(cli, analyst)
    world.revoke_session(analyst)
    other = world.create_user("+15550122", "13579", first_name="Other", username="other")
    result = await cli("login", "--phone", "+15550122", prompts=["13579"])
    assert result.code == 0, result.err
    assert "Signed in as Other (@other" in result.out
    data = await store.load_session("default")
    assert data is not None
    assert analyst.id not in {row[0] for row in data.entities}  # the old account's cache is gone
    assert other.id in {row[0] for row in data.entities}


async def test_missing_public_key_file(
    cli: Cli, tmp_path: Path, telegram_server: TelegramTestServer, store_url: str
) -> None:
    config = write_config(tmp_path / "other.toml", telegram_server, store_url)
    (tmp_path / "server.pem").unlink()
    for command in (["whoami"], ["login", "--phone", "+15550100"]):
        result = await cli(*command, config=config)
        assert result.code == 3, result.err
        assert "telegram.server.public_key" in result.err
        assert "does not exist" in result.err


async def test_missing_api_id(
    cli: Cli, tmp_path: Path, telegram_server: TelegramTestServer, store_url: str
) -> None:
    config = write_config(tmp_path / "other.toml", telegram_server, store_url)
    config.write_text(config.read_text("utf-8").replace("api_id = 1\n", ""), "utf-8")
    result = await cli("login", "--phone", "+15550100", config=config)
    assert result.code == 3
    assert "telegram.api_id" in result.err


async def test_unreachable_server(
    cli: Cli, tmp_path: Path, telegram_server: TelegramTestServer, store_url: str
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path / "other.toml", telegram_server, store_url)
    config.write_text(
        config.read_text("utf-8").replace(f"port = {telegram_server.port}", f"port = {port}"),
        "utf-8",
    )
    result = await cli("login", "--phone", "+15550100", config=config)
    assert result.code == 7
    assert f"cannot reach Telegram at 127.0.0.1:{port}" in result.err
