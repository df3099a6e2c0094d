from __future__ import annotations

import json
from datetime import datetime

from monitor.alerts import (
    SESSION_REVOKED,
    alert_payload,
    alert_text,
    system_payload,
    system_text,
)
from monitor.domain import (
    FrameMatch,
    HashType,
    MatchKind,
    MediaKind,
    ReviewStatus,
    SourceKind,
    Tier,
    Variant,
)
from monitor.logs import register_secret
from tests.unit.alerts.helpers import ENTRY_PDQ, QUERY_PDQ, SHA256, make_hit, make_source

PAYLOAD_KEYS = {
    "type",
    "hit_id",
    "tier",
    "bank",
    "case_id",
    "label",
    "hash_type",
    "distance",
    "variant",
    "match_kind",
    "matched_span",
    "coverage",
    "matched_frames",
    "channel",
    "message_id",
    "link",
    "posted_at",
    "posted_at_local",
    "detected_at",
    "media_kind",
    "sha256",
    "review_status",
}


def test_text_names_everything_staff_need() -> None:
    text = alert_text(make_hit(), timezone="Asia/Seoul")
    lines = text.splitlines()
    assert lines[0] == "NEAR-EXACT hash-list hit #42"
    assert "Bank: ncmec-2024, case C-77" in lines
    assert "Match: pdq distance 4" in lines
    assert "Channel: Example Channel (@examplechan)" in lines
    assert "Message: https://t.me/examplechan/56" in lines
    assert "Posted: 2024-08-26 03:00:00 UTC / 2024-08-26 12:00:00 KST (Asia/Seoul)" in lines
    assert "Media: photo, sha256 3f2a9c1b7eab..." in lines
    assert "Hit id: 42" in lines
    assert lines[-1] == "Review: monitor hits show 42"


def test_text_never_carries_full_hashes_or_markup() -> None:
    text = alert_text(make_hit(), timezone="UTC")
    assert SHA256 not in text
    assert ENTRY_PDQ[:16] not in text
    assert QUERY_PDQ[:16] not in text
    assert "<" not in text
    assert "*" not in text


def test_text_tier_case_and_variant() -> None:
    exact = alert_text(
        make_hit(tier=Tier.EXACT, hash_type=HashType.SHA256, distance=0), timezone="UTC"
    )
    assert exact.startswith("EXACT hash-list hit #42")
    assert "Match: sha256 distance 0" in exact
    match = alert_text(make_hit(tier=Tier.MATCH, variant=Variant.ROT90), timezone="UTC")
    assert match.startswith("match hash-list hit #42 (needs review)")
    assert "Match: pdq distance 4 (variant rot90)" in match
    no_case = alert_text(make_hit(case_id=None), timezone="UTC")
    assert "Bank: ncmec-2024, no case id" in no_case


def test_text_in_utc_shows_one_time() -> None:
    text = alert_text(make_hit(), timezone="UTC")
    assert "Posted: 2024-08-26 03:00:00 UTC" in text.splitlines()


def test_text_channel_without_username_shows_its_id() -> None:
    hit = make_hit(source=make_source(chat_username=None, link=None))
    text = alert_text(hit, timezone="UTC")
    assert "Channel: Example Channel (id -1001234567890)" in text
    assert "Message: #56" in text


def test_text_with_no_source_or_time() -> None:
    text = alert_text(make_hit(source=None), timezone="Asia/Seoul")
    assert "Source: unknown" in text
    assert "Posted: unknown" in text
    assert "Media: unknown" in text
    file_hit = make_hit(
        source=make_source(
            kind=SourceKind.FILE,
            key="file:/cases/x.jpg",
            path="/cases/x.jpg",
            chat_id=None,
            chat_title=None,
            chat_username=None,
            message_id=None,
            link=None,
            posted_at=None,
            media_kind=MediaKind.IMAGE,
        )
    )
    assert "File: /cases/x.jpg" in alert_text(file_hit, timezone="UTC")


def test_naive_times_are_taken_as_utc() -> None:
    naive = make_hit(source=make_source(posted_at=datetime(2024, 8, 26, 3, 0)))
    text = alert_text(naive, timezone="Asia/Seoul")
    assert "2024-08-26 12:00:00 KST" in text


def test_payload_keys_and_values() -> None:
    payload = alert_payload(make_hit(), timezone="Asia/Seoul")
    assert set(payload) == PAYLOAD_KEYS
    assert payload["type"] == "hit"
    assert payload["hit_id"] == 42
    assert payload["tier"] == "near-exact"
    assert payload["hash_type"] == "pdq"
    assert payload["variant"] == "original"
    assert payload["channel"] == {
        "id": -1001234567890,
        "title": "Example Channel",
        "username": "examplechan",
    }
    assert payload["message_id"] == 56
    assert payload["link"] == "https://t.me/examplechan/56"
    assert payload["posted_at"] == "2024-08-26T03:00:00+00:00"
    assert payload["posted_at_local"] == "2024-08-26T12:00:00+09:00"
    assert payload["detected_at"] == "2024-08-26T03:00:05+00:00"
    assert payload["media_kind"] == "photo"
    assert payload["sha256"] == SHA256
    assert payload["review_status"] == ReviewStatus.NEW.value
    assert "query_value" not in json.dumps(payload)
    assert QUERY_PDQ not in json.dumps(payload)


def test_payload_without_source_is_still_complete() -> None:
    payload = alert_payload(make_hit(source=None), timezone="UTC")
    assert set(payload) == PAYLOAD_KEYS
    assert payload["channel"] == {"id": None, "title": None, "username": None}
    assert payload["posted_at"] is None
    assert payload["posted_at_local"] is None
    json.dumps(payload)


def test_video_hits_say_where_in_the_video() -> None:
    clip = make_hit(
        hash_type=HashType.VPDQ,
        kind=MatchKind.CLIP,
        span=(72.0, 95.0),
        coverage=0.4,
        frames=tuple(FrameMatch(72.0 + i, 10.0 + i, 3) for i in range(60)),
    )
    text = alert_text(clip, timezone="UTC")
    assert "Clip of a listed video, posted video 1:12 to 1:35, 40% of its frames" in text
    payload = alert_payload(clip, timezone="UTC")
    assert payload["match_kind"] == "clip"
    assert payload["matched_span"] == [72.0, 95.0]
    assert payload["coverage"] == 0.4
    assert payload["matched_frames"][0] == [72.0, 10.0, 3]
    assert len(payload["matched_frames"]) == 50
    still = make_hit(
        hash_type=HashType.VPDQ, kind=MatchKind.FRAME, frames=(FrameMatch(None, 3725.0, 2),)
    )
    assert "Still of a listed video, at 1:02:05 of it" in alert_text(still, timezone="UTC")
    frame = make_hit(kind=MatchKind.FRAME, frames=(FrameMatch(5.0, None, 2),))
    assert "Frame of the posted video at 0:05 matches a listed image" in alert_text(
        frame, timezone="UTC"
    )
    photo = alert_payload(make_hit(), timezone="UTC")
    assert (photo["match_kind"], photo["matched_span"], photo["matched_frames"]) == (
        "image",
        None,
        [],
    )


def test_system_alerts() -> None:
    text = system_text(SESSION_REVOKED, "AuthKeyUnregisteredError")
    assert text.startswith("telegram-hash-monitor: The Telegram session was revoked")
    assert "Event: session_revoked" in text
    assert "AuthKeyUnregisteredError" in text
    payload = system_payload("custom_event", "  detail  ", at=datetime(2024, 1, 1))
    assert payload == {
        "type": "system",
        "event": "custom_event",
        "title": "custom_event",
        "detail": "detail",
        "at": "2024-01-01T00:00:00+00:00",
    }


def test_system_detail_is_redacted_and_cut() -> None:
    register_secret("s3cr3t-alert-test-value")
    text = system_text("daemon_stopped", "failed with s3cr3t-alert-test-value " + "x" * 5000)
    assert "s3cr3t-alert-test-value" not in text
    assert len(text) < 1200
    payload = system_payload("daemon_stopped", "token s3cr3t-alert-test-value")
    assert "s3cr3t-alert-test-value" not in payload["detail"]
