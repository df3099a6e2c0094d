from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.domain import MediaKind, SourceKind
from monitor.errors import InputError
from monitor.sources.desktop_export import bot_api_chat_id, read_desktop_export
from monitor.sources.files import WalkReport, iter_local_items


def make_export(
    root: Path, messages: list[dict[str, object]], chat_type: str = "public_channel"
) -> Path:
    (root / "photos").mkdir(parents=True, exist_ok=True)
    data = {"name": "Chan", "type": chat_type, "id": 1500000001, "messages": messages}
    (root / "result.json").write_text(json.dumps(data), encoding="utf-8")
    return root


def test_reads_photos_files_times_and_links(tmp_path: Path) -> None:
    root = make_export(
        tmp_path / "exp",
        [
            {
                "id": 7,
                "type": "message",
                "date": "2024-08-26T09:30:00",
                "date_unixtime": "1724632200",
                "photo": "photos/a.jpg",
                "forwarded_from": "Other channel",
            },
            {
                "id": 8,
                "type": "message",
                "date_unixtime": "1724632260",
                "file": "files/s.webp",
                "media_type": "sticker",
                "mime_type": "image/webp",
            },
            {"id": 9, "type": "service", "action": "pin_message"},
            {
                "id": 10,
                "type": "message",
                "photo": "(File not included. Change data exporting settings to download.)",
            },
            {"id": 11, "type": "message", "photo": "../../etc/passwd"},
            {"id": 12, "type": "message", "photo": "photos/missing.jpg"},
        ],
    )
    (root / "photos" / "a.jpg").write_bytes(b"x")
    (root / "files").mkdir()
    (root / "files" / "s.webp").write_bytes(b"y")
    media, problems = read_desktop_export(root)
    assert [m.source.message_id for m in media] == [7, 8]
    first = media[0].source
    assert first.kind is SourceKind.DESKTOP_EXPORT
    assert first.chat_id == -1001500000001
    assert first.posted_at == datetime(
        2024, 8, 26, 0, 30, tzinfo=UTC
    )  # from date_unixtime, not date
    assert first.link == "https://t.me/c/1500000001/7"
    assert first.forward_from_name == "Other channel"
    assert first.media_kind is MediaKind.PHOTO
    assert media[1].source.media_kind is MediaKind.STICKER
    reasons = {p.message_id: p.reason for p in problems}
    assert reasons == {10: "not exported", 11: "path leaves the export folder", 12: "file missing"}


def test_full_account_export_with_chat_list(tmp_path: Path) -> None:
    root = tmp_path / "acct"
    (root / "chats" / "chat_1" / "photos").mkdir(parents=True)
    (root / "chats" / "chat_1" / "photos" / "p.jpg").write_bytes(b"z")
    chat = {
        "name": "G",
        "type": "private_group",
        "id": 42,
        "messages": [{"id": 1, "type": "message", "photo": "chats/chat_1/photos/p.jpg"}],
    }
    (root / "result.json").write_text(json.dumps({"chats": {"list": [chat]}}), encoding="utf-8")
    media, problems = read_desktop_export(root)
    assert len(media) == 1
    assert not problems
    assert media[0].source.chat_id == -42
    assert media[0].source.link is None


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"x": 1}', b"\xff\xfe\x00"])
def test_broken_index_is_a_clear_input_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "result.json").write_bytes(content)
    with pytest.raises(InputError, match=r"result\.json"):
        read_desktop_export(tmp_path)


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    with pytest.raises(InputError):
        read_desktop_export(tmp_path)


def test_bot_api_ids() -> None:
    assert bot_api_chat_id(123, "private_channel") == -100123
    assert bot_api_chat_id(123, "personal_chat") == 123
    assert bot_api_chat_id("123", "public_channel") is None


def test_walk_finds_files_and_nested_exports_but_not_links(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.jpg").write_bytes(b"1")
    (tmp_path / "b.png").write_bytes(b"2")
    exp = make_export(
        tmp_path / "a" / "export", [{"id": 1, "type": "message", "photo": "photos/p.jpg"}]
    )
    (exp / "photos" / "p.jpg").write_bytes(b"3")
    (exp / "photos" / "unreferenced_thumb.jpg").write_bytes(b"4")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "b.png")
    report = WalkReport(problems=[])
    items = list(iter_local_items([tmp_path], report))
    names = sorted(Path(i.path).name for i in items)
    assert names == ["b.png", "one.jpg", "p.jpg"]
    assert report.skipped_links == 1
    kinds = {Path(i.path).name: i.source.kind for i in items}
    assert kinds["p.jpg"] is SourceKind.DESKTOP_EXPORT
    assert kinds["b.png"] is SourceKind.FILE
