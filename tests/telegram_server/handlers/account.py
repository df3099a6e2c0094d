"""help.*, auth.* (code, 2FA password, bot token), account.getPassword, users.*,
contacts.resolveUsername."""

from __future__ import annotations

import os
import secrets

from telethon.tl import functions, types

from .. import srp
from ..errors import RpcError, bad_request, unauthorized
from ..models import UserRecord, now
from . import RequestContext, handler


@handler(functions.help.GetConfigRequest, auth=False)
def get_config(ctx: RequestContext, request: functions.help.GetConfigRequest) -> types.Config:
    world = ctx.world
    date = now()
    return types.Config(
        date=date,
        expires=date.replace(year=date.year + 1),
        test_mode=False,
        this_dc=world.dc_id,
        dc_options=[types.DcOption(id=world.dc_id, ip_address=world.host, port=world.port)],
        dc_txt_domain_name="localhost",
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        online_update_period_ms=210000,
        offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000,
        online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500,
        push_chat_period_ms=60000,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=2147483647,
        revoke_pm_time_limit=2147483647,
        rating_e_decay=2419200,
        stickers_recent_limit=200,
        channels_read_media_period=604800,
        call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000,
        call_connect_timeout_ms=30000,
        call_packet_timeout_ms=10000,
        me_url_prefix="https://t.me/",
        caption_length_max=1024,
        message_length_max=4096,
        webfile_dc_id=world.dc_id,
    )


@handler(functions.help.GetNearestDcRequest, auth=False)
def get_nearest_dc(ctx: RequestContext, request: object) -> types.NearestDc:
    return types.NearestDc(country="ZZ", this_dc=ctx.world.dc_id, nearest_dc=ctx.world.dc_id)


@handler(functions.auth.SendCodeRequest, auth=False)
def send_code(ctx: RequestContext, request: functions.auth.SendCodeRequest) -> types.auth.SentCode:
    user = ctx.world.user_by_phone(request.phone_number)
    if user is None or user.bot:
        raise bad_request("PHONE_NUMBER_INVALID")
    code_hash = secrets.token_hex(8)
    ctx.world.phone_code_hashes[code_hash] = user.phone or ""
    return types.auth.SentCode(
        type=types.auth.SentCodeTypeApp(length=len(user.code or "")), phone_code_hash=code_hash
    )


def _log_in(ctx: RequestContext, user_id: int) -> types.auth.Authorization:
    ctx.auth.user_id = user_id
    ctx.auth.revoked = None
    ctx.auth.password_user_id = None
    user = ctx.world.users[user_id]
    return types.auth.Authorization(user=user.to_tl(viewer_id=user.id))


@handler(functions.auth.SignInRequest, auth=False)
def sign_in(ctx: RequestContext, request: functions.auth.SignInRequest) -> types.auth.Authorization:
    phone = ctx.world.phone_code_hashes.get(request.phone_code_hash)
    user = ctx.world.user_by_phone(request.phone_number)
    if phone is None or user is None or user.phone != phone:
        raise bad_request("PHONE_CODE_HASH_EMPTY" if phone is None else "PHONE_NUMBER_INVALID")
    if not request.phone_code:
        raise bad_request("PHONE_CODE_EMPTY")
    if request.phone_code != user.code:
        raise bad_request("PHONE_CODE_INVALID")
    if user.password is not None:
        # The code was right; this key may now prove the password (account.getPassword,
        # auth.checkPassword). Telethon raises SessionPasswordNeededError.
        ctx.auth.password_user_id = user.id
        raise RpcError(401, "SESSION_PASSWORD_NEEDED")
    return _log_in(ctx, user.id)


def _password_account(ctx: RequestContext) -> UserRecord:
    """The account whose password this key may ask about: the logged-in one, or the one that
    passed the code and now owes its password."""
    user_id = ctx.auth.user_id or ctx.auth.password_user_id
    user = ctx.world.users.get(user_id) if user_id is not None else None
    if user is None:
        raise unauthorized("AUTH_KEY_UNREGISTERED")
    return user


@handler(functions.account.GetPasswordRequest, auth=False)
def get_password(ctx: RequestContext, request: object) -> types.account.Password:
    """The SRP parameters (``current_algo``, ``srp_B``, ``srp_id``) when a password is set."""
    user = _password_account(ctx)
    if user.password is None:
        return types.account.Password(
            new_algo=srp.new_algo(),
            new_secure_algo=types.SecurePasswordKdfAlgoSHA512(salt=os.urandom(8)),
            secure_random=os.urandom(32),
            has_password=False,
        )
    challenge = srp.new_challenge(user.id, user.password)
    ctx.world.srp_challenges[challenge.srp_id] = challenge
    return types.account.Password(
        new_algo=srp.new_algo(),
        new_secure_algo=types.SecurePasswordKdfAlgoSHA512(salt=os.urandom(8)),
        secure_random=os.urandom(32),
        has_password=True,
        current_algo=srp.algo(user.password),
        srp_B=challenge.srp_b_bytes,
        srp_id=challenge.srp_id,
        hint=user.password.hint,
    )


@handler(functions.auth.CheckPasswordRequest, auth=False)
def check_password(
    ctx: RequestContext, request: functions.auth.CheckPasswordRequest
) -> types.auth.Authorization:
    """Verify the client's SRP proof ``M1`` for the challenge ``srp_id`` (used once)."""
    user = _password_account(ctx)
    check = request.password
    if not isinstance(check, types.InputCheckPasswordSRP) or user.password is None:
        raise bad_request("PASSWORD_HASH_INVALID")
    challenge = ctx.world.srp_challenges.pop(check.srp_id, None)
    if challenge is None or challenge.user_id != user.id:
        raise bad_request("SRP_ID_INVALID")
    if not srp.check(challenge, check.A, check.M1):
        raise bad_request("PASSWORD_HASH_INVALID")
    return _log_in(ctx, user.id)


@handler(functions.auth.ImportBotAuthorizationRequest, auth=False)
def import_bot_authorization(
    ctx: RequestContext, request: functions.auth.ImportBotAuthorizationRequest
) -> types.auth.Authorization:
    bot = next((u for u in ctx.world.users.values() if u.bot_token == request.bot_auth_token), None)
    if bot is None:
        raise bad_request("ACCESS_TOKEN_INVALID")
    return _log_in(ctx, bot.id)


@handler(functions.auth.LogOutRequest)
def log_out(ctx: RequestContext, request: object) -> types.auth.LoggedOut:
    ctx.require_user()
    ctx.auth.user_id = None
    return types.auth.LoggedOut()


def _user_for(ctx: RequestContext, input_user: object) -> types.User:
    me = ctx.require_user()
    return ctx.world.user_for(input_user, me).to_tl(viewer_id=me.id)


@handler(functions.users.GetUsersRequest)
def get_users(ctx: RequestContext, request: functions.users.GetUsersRequest) -> list[types.User]:
    return [_user_for(ctx, u) for u in request.id]


@handler(functions.users.GetFullUserRequest)
def get_full_user(
    ctx: RequestContext, request: functions.users.GetFullUserRequest
) -> types.users.UserFull:
    user = _user_for(ctx, request.id)
    return types.users.UserFull(
        full_user=types.UserFull(
            id=user.id,
            settings=types.PeerSettings(),
            notify_settings=types.PeerNotifySettings(),
            common_chats_count=0,
        ),
        chats=[],
        users=[user],
    )


@handler(functions.contacts.ResolveUsernameRequest)
def resolve_username(
    ctx: RequestContext, request: functions.contacts.ResolveUsernameRequest
) -> types.contacts.ResolvedPeer:
    me = ctx.require_user()
    name = request.username.lower()
    for channel in ctx.world.channels.values():
        if channel.username and channel.username.lower() == name and not channel.removed:
            return types.contacts.ResolvedPeer(
                peer=types.PeerChannel(channel.id),
                chats=[channel.to_tl(viewer_id=me.id)],
                users=[],
            )
    for user in ctx.world.users.values():
        if user.username and user.username.lower() == name:
            return types.contacts.ResolvedPeer(
                peer=types.PeerUser(user.id), chats=[], users=[user.to_tl(viewer_id=me.id)]
            )
    raise bad_request("USERNAME_NOT_OCCUPIED")
