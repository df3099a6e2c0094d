"""`monitor login`, `monitor logout`, `monitor whoami`: the Telegram account the daemon reads with.

The session (auth key, DC, entity cache, update state) is kept in the database, named by
``telegram.session``. A bot token is never a command-line argument (other users can read a
process's arguments): it comes from ``$MONITOR_TELEGRAM_BOT_TOKEN`` or a hidden prompt. The login
code and the 2FA password are prompted (the password hidden) in a thread of their own, so the
connection to Telegram stays served while a human types.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from monitor.cli.output import print_json_line
from monitor.cli.state import CliState, run, state_of
from monitor.config import Settings
from monitor.domain import TelegramAccount, jsonable
from monitor.errors import SessionRevoked, TelegramError
from monitor.logs import register_secret
from monitor.runtime import current_actor, open_store
from monitor.telegram import auth
from monitor.telegram.client import build_client, disconnect, open_session
from monitor.telegram.errors import revoked_error
from monitor.telegram.session import StoreSession

T = TypeVar("T")

BOT_TOKEN_ENV = "MONITOR_TELEGRAM_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
# One-shot commands: no update stream, no catch-up, and fail fast when Telegram is unreachable.
CLI_CLIENT: dict[str, Any] = {
    "catch_up": False,
    "receive_updates": False,
    "connection_retries": 2,
    "retry_delay": 1,
}


def login(
    ctx: typer.Context,
    phone: str | None = typer.Option(
        None, "--phone", help="Phone number of the account, international format (+4915...)."
    ),
    bot: bool = typer.Option(
        False,
        "--bot",
        help=f"Sign in as a bot; the token is read from ${BOT_TOKEN_ENV} or a hidden prompt.",
    ),
) -> None:
    """Sign the monitoring account in to Telegram and keep the session in the database."""
    state = state_of(ctx)
    settings = state.settings
    token: str | None = None
    if bot:
        if phone:
            raise typer.BadParameter("give either --phone or --bot", param_hint="--phone")
        token = os.environ.get(BOT_TOKEN_ENV) or typer.prompt(
            "Bot token (from @BotFather)", hide_input=True, err=True
        )
        token = token.strip()
        register_secret(token)
    elif not phone:
        phone = typer.prompt(
            "Phone number of the monitoring account (international format, e.g. +4915123456)",
            err=True,
        ).strip()
    account, already = run(_login(settings, phone=phone, bot_token=token))
    where = f"session {account.session!r} stored in the database"
    if already:
        state.out.print(
            f"Already signed in as {_who(account)} — {where}. "
            "Run `monitor logout` first to sign in as another account.",
            markup=False,
            highlight=False,
        )
    else:
        state.out.print(f"Signed in as {_who(account)} — {where}", markup=False, highlight=False)


def logout(ctx: typer.Context) -> None:
    """Log the monitoring account out of Telegram and delete the session from the database."""
    state = state_of(ctx)
    settings = state.settings
    result = run(_logout(settings))
    name = settings.telegram.session
    if result is None:
        message = f"No Telegram session {name!r} is stored: nothing to log out."
    elif result:
        message = f"Logged out of Telegram; session {name!r} deleted from the database."
    else:
        message = (
            f"The session was no longer valid at Telegram; session {name!r} deleted from the "
            "database."
        )
    state.out.print(message, markup=False, highlight=False)


def whoami(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of text."),
) -> None:
    """Who the stored session is signed in as, checked with Telegram (exit 8 if revoked)."""
    state = state_of(ctx)
    account, port = run(_whoami(state.settings))
    if as_json:
        print_json_line({**jsonable(account), "port": port})
        return
    _print_account(state, account, port)


# --- the work ---------------------------------------------------------------------------------


async def _login(
    settings: Settings, *, phone: str | None, bot_token: str | None
) -> tuple[TelegramAccount, bool]:
    tg = settings.telegram
    actor = current_actor()
    async with open_store(settings) as store:
        session = await open_session(store, tg, persist_updates=False)
        known = await store.get_account(tg.session)
        if (
            session.auth_key is not None
            and known is not None
            and known.user_id is not None
            and known.state == "active"
        ):
            current = await _still_signed_in(settings, store, session)
            if current is not None:
                return current, True
        # A new login starts from a new key: the old one may be revoked, duplicated or unknown.
        session.auth_key = None
        session.persist_updates = True
        client = build_client(tg, session, **CLI_CLIENT)
        try:
            account = await auth.login(
                client,
                store,
                tg,
                phone=phone,
                bot_token=bot_token,
                code_callback=_ask_code(phone or ""),
                password_callback=_ask_password,
                actor=actor,
            )
        except BaseException:
            await disconnect(client, session)
            if session.auth_key is not None:
                # The new key is saved (and counted as "active") but nobody signed in with it.
                await store.set_session_state(
                    tg.session, "logged_out", reason="sign-in not completed", actor=actor
                )
            raise
        await disconnect(client, session)
        return account, False


async def _still_signed_in(
    settings: Settings, store: Any, session: StoreSession
) -> TelegramAccount | None:
    client = build_client(settings.telegram, session, **CLI_CLIENT)
    try:
        return await auth.whoami(client, store, settings.telegram)
    except SessionRevoked:
        return None
    finally:
        await disconnect(client, session)


async def _logout(settings: Settings) -> bool | None:
    tg = settings.telegram
    async with open_store(settings) as store:
        session = await open_session(store, tg, persist_updates=False)
        known = await store.get_account(tg.session)
        if session.auth_key is None and (known is None or known.state == "logged_out"):
            return None
        client = build_client(tg, session, **CLI_CLIENT)
        return await auth.logout(client, store, tg, actor=current_actor())


async def _whoami(settings: Settings) -> tuple[TelegramAccount, int | None]:
    tg = settings.telegram
    async with open_store(settings) as store:
        session = await open_session(store, tg, persist_updates=False)
        client = build_client(tg, session, **CLI_CLIENT)  # config errors first
        known = await store.get_account(tg.session)
        if known is None or session.auth_key is None:
            if known is not None and known.state == "revoked":
                raise revoked_error(tg.session, known.state_reason or "revoked")
            raise TelegramError(auth.NOT_LOGGED_IN)
        try:
            account = await auth.whoami(client, store, tg, actor=current_actor())
        finally:
            await disconnect(client, session)
        return account, session.port


# --- prompts ------------------------------------------------------------------------------------


def _ask_code(phone: str) -> auth.Ask:
    async def ask(problem: str | None) -> str:
        if problem is None:
            typer.echo(
                f"Telegram sent a login code to {auth.mask_phone(phone)} "
                "(in the Telegram app, or by SMS).",
                err=True,
            )
        else:
            typer.echo(f"{problem[0].upper()}{problem[1:]}: try again.", err=True)
        return str(await _in_thread(lambda: typer.prompt("Login code", err=True)))

    return ask


async def _ask_password(problem: str | None) -> str:
    if problem is None:
        typer.echo("This account has two-step verification.", err=True)
    else:
        typer.echo(f"{problem[0].upper()}{problem[1:]}: try again.", err=True)
    return str(await _in_thread(lambda: typer.prompt("2FA password", hide_input=True, err=True)))


async def _in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking prompt in a daemon thread, so the event loop (and the connection to
    Telegram) keeps running, and Ctrl-C does not wait for the prompt to return."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="monitor-prompt", daemon=True).start()
    return await future


# --- output -------------------------------------------------------------------------------------


def _who(account: TelegramAccount) -> str:
    name = account.display_name or account.username or "(no name)"
    handle = f"@{account.username}, " if account.username else ""
    return f"{name} ({handle}id {account.user_id})"


def _print_account(state: CliState, account: TelegramAccount, port: int | None) -> None:
    server = account.server_address or "Telegram"
    if port:
        server = f"{server}:{port}"
    state_text = account.state + (f" ({account.state_reason})" if account.state_reason else "")
    rows = [
        ("session", account.session),
        ("state", state_text),
        ("account", account.display_name or ""),
        ("username", f"@{account.username}" if account.username else "(none)"),
        ("user id", str(account.user_id)),
        ("bot", "yes" if account.is_bot else "no"),
        ("server", f"DC {account.dc_id}, {server}" if account.dc_id else server),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        state.out.print(f"{key.ljust(width)}  {value}", markup=False, highlight=False)
