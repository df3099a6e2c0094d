"""Allow-list references: every accepted form, and clear refusals."""

from __future__ import annotations

import pytest

from monitor.domain import ChannelRef, RefKind
from monitor.errors import InputError
from monitor.telegram.refs import bare_channel_id, message_link, parse_ref, to_bot_api_id


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("@Deep_Feed", RefKind.USERNAME, "deep_feed"),
        ("deep_feed", RefKind.USERNAME, "deep_feed"),
        ("t.me/deep_feed", RefKind.USERNAME, "deep_feed"),
        ("https://t.me/deep_feed", RefKind.USERNAME, "deep_feed"),
        ("https://telegram.me/deep_feed/", RefKind.USERNAME, "deep_feed"),
        ("https://t.me/deep_feed/123", RefKind.USERNAME, "deep_feed"),
        ("https://t.me/s/deep_feed", RefKind.USERNAME, "deep_feed"),
        ("https://www.t.me/deep_feed?single", RefKind.USERNAME, "deep_feed"),
        ("tg://resolve?domain=deep_feed", RefKind.USERNAME, "deep_feed"),
        ("https://t.me/+AbCdEfGh12_-", RefKind.INVITE, "AbCdEfGh12_-"),
        ("t.me/joinchat/AbCdEfGh12", RefKind.INVITE, "AbCdEfGh12"),
        ("tg://join?invite=AbCdEfGh12", RefKind.INVITE, "AbCdEfGh12"),
        ("-1001234567890", RefKind.ID, "-1001234567890"),
        ("1234567890", RefKind.ID, "-1001234567890"),
        ("https://t.me/c/1234567890/55", RefKind.ID, "-1001234567890"),
        ("-4242", RefKind.ID, "-4242"),
    ],
)
def test_accepted_forms(text: str, kind: RefKind, value: str) -> None:
    assert parse_ref(text) == ChannelRef(kind, value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "@ab",
        "@1abc",
        "https://example.com/name",
        "t.me/",
        "t.me/joinchat/",
        "0",
        "tg://msg?to=x",
        "t.me/+short",
        "https://t.me/addstickers/pack",
        "name with space",
    ],
)
def test_refused_forms_say_what_is_expected(text: str) -> None:
    with pytest.raises(InputError):
        parse_ref(text)


def test_normalised_string_round_trips() -> None:
    for text in ("@Feed_One", "t.me/joinchat/AbCdEfGh12", "1234567890"):
        ref = parse_ref(text)
        assert parse_ref(str(ref)) == ref


def test_ids_and_links() -> None:
    assert to_bot_api_id(1234567890) == -1001234567890
    assert to_bot_api_id(-1001234567890) == -1001234567890
    assert bare_channel_id(-1001234567890) == 1234567890
    assert message_link(-1001234567890, 7, "feed") == "https://t.me/feed/7"
    assert message_link(-1001234567890, 7, None) == "https://t.me/c/1234567890/7"
