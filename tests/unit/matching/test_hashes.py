import pytest

from monitor.domain import HashType
from monitor.matching.hashes import (
    InvalidHash,
    normalize_hash,
    normalize_video_id,
    parse_hash_type,
)

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_normalize_strips_and_lowercases() -> None:
    assert normalize_hash(HashType.PDQ, f"  {PDQ.upper()}\t") == PDQ


@pytest.mark.parametrize(
    ("hash_type", "text", "message"),
    [
        (HashType.PDQ, PDQ[:-1], "expected 64 hex characters, got 63"),
        (HashType.PDQ, PDQ + "0", "expected 64 hex characters, got 65"),
        (HashType.MD5, "", "expected 32 hex characters, got 0"),
        (HashType.PDQ, PDQ[:4] + "g" + PDQ[5:], "not hexadecimal at position 5"),
        (HashType.PDQ, "0" * 64, "degenerate all-zero hash"),
        (HashType.PHASH, "F" * 16, "degenerate all-one hash"),
        (HashType.SHA256, "ab " * 21 + "c", "not hexadecimal at position 3"),
    ],
)
def test_normalize_refuses(hash_type: HashType, text: str, message: str) -> None:
    with pytest.raises(InvalidHash, match=message):
        normalize_hash(hash_type, text)


def test_invalid_hash_is_a_value_error() -> None:
    assert issubclass(InvalidHash, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pdq", HashType.PDQ),
        (" PDQ ", HashType.PDQ),
        ("hash_pdq", HashType.PDQ),
        ("pdq_hash", HashType.PDQ),
        ("pHash", HashType.PHASH),
        ("MD5", HashType.MD5),
        ("video_md5", HashType.MD5),
        ("SHA-256", HashType.SHA256),
        ("sha256", HashType.SHA256),
    ],
)
def test_parse_hash_type(text: str, expected: HashType) -> None:
    assert parse_hash_type(text) is expected


@pytest.mark.parametrize("text", ["", "sha1", "photodna", "pdqx"])
def test_parse_hash_type_refuses(text: str) -> None:
    with pytest.raises(InvalidHash):
        parse_hash_type(text)


# -- video ids (vpdq entries) ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["vpdq", "VPDQ", " video_pdq ", "vpdq_frame"])
def test_vpdq_aliases(text: str) -> None:
    assert parse_hash_type(text) is HashType.VPDQ


def test_video_id_keeps_its_case_and_is_stripped() -> None:
    assert normalize_hash(HashType.VPDQ, "  Clip-7/ABC.mp4 \t") == "Clip-7/ABC.mp4"
    assert normalize_video_id("x" * 64) == "x" * 64
    assert normalize_video_id("영상 1") == "영상 1"  # inner spaces and any script are fine
    # A video id is not a hash: hex-looking ids are not lower-cased either.
    assert normalize_hash(HashType.VPDQ, PDQ.upper()) == PDQ.upper()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty video id"),
        ("   ", "empty video id"),
        ("x" * 65, "longer than 64 characters"),
        ("a\tb", r"control or invisible character at position 2 \(U\+0009\)"),
        ("ab\x00", r"position 3 \(U\+0000\)"),
        ("a\u200bb", r"U\+200B"),  # zero-width space
        ("a\u202eb", r"U\+202E"),  # right-to-left override
    ],
)
def test_video_id_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidHash, match=message):
        normalize_hash(HashType.VPDQ, text)
