"""help.*, auth.*, users.*, contacts.resolveUsername."""

from __future__ import annotations

import secrets

from telethon.tl import functions, types

from ..errors import bad_request
from ..models import now
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
    if isinstance(input_user, types.InputUserSelf):
        return me.to_tl(viewer_id=me.id)
    user = ctx.world.users.get(getattr(input_user, "user_id", -1))
    if user is None or getattr(input_user, "access_hash", None) != user.access_hash:
        raise bad_request("USER_ID_INVALID")
    return user.to_tl(viewer_id=me.id)


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
