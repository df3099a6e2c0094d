"""2FA (cloud password, SRP) sign-in with the real TelegramClient."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from telethon import TelegramClient, errors, password
from telethon.tl import functions, types

from tests.telegram_server import World, srp


async def test_start_with_password(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    user = world.create_user("+15550111", "11111", password="secret")
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.start(phone="+15550111", code_callback=lambda: "11111", password="secret")
        me = await tg.get_me()
        assert me.id == user.id
        assert world.request_count("auth.signIn") == 1
        assert world.request_count("account.getPassword") == 1
        assert world.request_count("auth.checkPassword") == 1
        assert not world.srp_challenges  # each challenge is used once
        await tg.disconnect()


async def test_wrong_password_raises(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    world.create_user("+15550112", "22222", password="secret")
    async with asyncio.timeout(10):
        tg = make_client()
        with pytest.raises(errors.PasswordHashInvalidError):
            await tg.start(phone="+15550112", code_callback=lambda: "22222", password="guess")
        assert not await tg.is_user_authorized()
        await tg.disconnect()


async def test_start_without_password_for_2fa_account(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    world.create_user("+15550113", "33333", password="secret")
    async with asyncio.timeout(10):
        tg = make_client()
        with pytest.raises(ValueError, match="Two-step verification"):
            await tg.start(phone="+15550113", code_callback=lambda: "33333", password=None)
        await tg.disconnect()


async def test_low_level_sign_in_flow(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    """send_code_request -> sign_in(phone, code) raises SessionPasswordNeededError ->
    sign_in(password=...) (wrong, then right) logs in."""
    user = world.create_user("+15550114", "44444", password="correct horse")
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.connect()
        # Before the code, the key may not ask about any password.
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await tg(functions.account.GetPasswordRequest())
        await tg.send_code_request("+15550114")
        with pytest.raises(errors.SessionPasswordNeededError):
            await tg.sign_in("+15550114", "44444")
        assert not await tg.is_user_authorized()

        with pytest.raises(errors.PasswordHashInvalidError):
            await tg.sign_in(password="battery staple")
        me = await tg.sign_in(password="correct horse")
        assert me.id == user.id
        assert await tg.is_user_authorized()
        # Logged in, the account can still read its password settings.
        settings = await tg(functions.account.GetPasswordRequest())
        assert settings.has_password
        await tg.disconnect()


async def test_password_parameters_pass_telethons_checks(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    """account.password carries Telegram's known-good prime (Telethon accepts it without
    factoring), g = 3, and a usable srp_B; a stale srp_id is refused."""
    user = world.create_user("+15550115", "55555", password="pw", username="twofa")
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.start(phone="+15550115", code_callback=lambda: "55555", password="pw")
        settings = await tg(functions.account.GetPasswordRequest())
        algo = settings.current_algo
        assert isinstance(
            algo, types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow
        )
        assert (algo.g, algo.p) == (3, srp.PRIME_BYTES)
        password.check_prime_and_good(algo.p, algo.g)  # instant for the known prime
        assert len(settings.srp_B) == 256
        assert settings.srp_id in world.srp_challenges
        check = password.compute_check(settings, "pw")
        assert srp.check(world.srp_challenges[settings.srp_id], check.A, check.M1)
        # Changing the password voids outstanding challenges.
        world.set_password(user, "new")
        with pytest.raises(errors.SrpIdInvalidError):
            await tg(functions.auth.CheckPasswordRequest(check))
        await tg.disconnect()


async def test_account_without_password_is_unaffected(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    world.create_user("+15550116", "66666")
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.start(phone="+15550116", code_callback=lambda: "66666", password="ignored")
        settings = await tg(functions.account.GetPasswordRequest())
        assert not settings.has_password
        assert settings.srp_B is None
        await tg.disconnect()
