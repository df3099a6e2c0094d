"""compute_signals: exact hashes, sizes, the shape of the query list and the quality gate."""

from __future__ import annotations

import hashlib
import pickle
import re
from dataclasses import replace

import pytest

from monitor.config import HashingSettings
from monitor.domain import HashType, Signals, Variant
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing import ORIENTATIONS, compute_signals, hamming
from tests.imagegen import flat, letterbox, photo_like, text_only, to_jpeg, to_png
from tests.unit.hashing.helpers import pdq_queries, query

HEX = re.compile(r"^[0-9a-f]+$")


def _is_hex(value: str | None, length: int) -> bool:
    return value is not None and len(value) == length and HEX.match(value) is not None


# --- exact hashes and sizes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [to_jpeg(photo_like(1)), to_png(photo_like(2)), b"not an image at all", b"\x00"],
    ids=["jpeg", "png", "text", "one-byte"],
)
def test_exact_hashes_equal_hashlib(data: bytes, settings: HashingSettings) -> None:
    s = compute_signals(data, settings)
    assert s.sha256 == hashlib.sha256(data).hexdigest()
    assert s.md5 == hashlib.md5(data).hexdigest()  # noqa: S324 - what lists carry
    assert s.size_bytes == len(data)
    assert _is_hex(s.sha256, 64)
    assert _is_hex(s.md5, 32)


def test_hash_lengths_and_fields(settings: HashingSettings) -> None:
    data = to_jpeg(photo_like(3), quality=90)
    s = compute_signals(data, settings)
    assert s.failure is None
    assert s.perceptual_ok
    assert _is_hex(s.pdq, HashType.PDQ.hex_len)
    assert _is_hex(s.phash, HashType.PHASH.hex_len)
    assert s.pdq_quality is not None
    assert 50 <= s.pdq_quality <= 100
    assert (s.mime, s.width, s.height) == ("image/jpeg", 640, 480)
    for q in s.queries:
        assert _is_hex(q.value, q.hash_type.hex_len)
        assert (q.quality is None) == (q.hash_type == HashType.PHASH)


def test_deterministic(settings: HashingSettings) -> None:
    data = to_jpeg(letterbox(photo_like(4), (0, 50, 0, 50)))
    first = compute_signals(data, settings)
    second = compute_signals(bytes(data), settings)
    assert first == second
    assert first.trimmed  # so the comparison covered trimmed variants too


def test_empty_is_refused(settings: HashingSettings) -> None:
    with pytest.raises(MediaError) as err:
        compute_signals(b"", settings)
    assert err.value.reason is MediaErrorReason.EMPTY


def test_too_large_is_refused_with_both_sizes() -> None:
    small = HashingSettings(max_bytes=1000)
    with pytest.raises(MediaError) as err:
        compute_signals(b"\xff" * 1001, small)
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    assert "1001" in err.value.detail
    assert "1000" in err.value.detail
    # exactly at the limit is fine (and returns a failure, not an exception, for junk content)
    assert compute_signals(b"\xff" * 1000, small).failure is not None


# --- the query list -----------------------------------------------------------------------------


def test_query_order_plain_image(settings: HashingSettings) -> None:
    s = compute_signals(to_jpeg(photo_like(5)), settings)
    assert not s.trimmed
    expected = [(HashType.PDQ, v) for v in ORIENTATIONS] + [(HashType.PHASH, Variant.ORIGINAL)]
    assert [(q.hash_type, q.variant) for q in s.queries] == expected
    assert s.queries[0].value == s.pdq
    assert s.queries[0].quality == s.pdq_quality
    assert query(s, Variant.ORIGINAL, HashType.PHASH).value == s.phash
    # the eight orientations of a generic image are eight different hashes
    assert len({q.value for q in pdq_queries(s)}) == 8


def test_query_order_trimmed_image(settings: HashingSettings) -> None:
    s = compute_signals(to_jpeg(letterbox(photo_like(6), (0, 60, 0, 60))), settings)
    assert s.trimmed
    trimmed = [
        Variant.TRIMMED,
        Variant.TRIMMED_ROT90,
        Variant.TRIMMED_ROT180,
        Variant.TRIMMED_ROT270,
        Variant.TRIMMED_FLIP_H,
        Variant.TRIMMED_FLIP_V,
        Variant.TRIMMED_TRANSPOSE,
        Variant.TRIMMED_TRANSVERSE,
    ]
    expected = (
        [(HashType.PDQ, v) for v in ORIENTATIONS]
        + [(HashType.PDQ, v) for v in trimmed]
        + [(HashType.PHASH, Variant.ORIGINAL), (HashType.PHASH, Variant.TRIMMED)]
    )
    assert [(q.hash_type, q.variant) for q in s.queries] == expected
    # never a re-oriented pHash
    assert all(not q.variant.reoriented for q in s.queries if q.hash_type == HashType.PHASH)


def test_dihedral_off_gives_only_identity_orientations() -> None:
    settings = HashingSettings(dihedral=False)
    s = compute_signals(to_jpeg(letterbox(photo_like(6), (0, 60, 0, 60))), settings)
    assert [(q.hash_type, q.variant) for q in s.queries] == [
        (HashType.PDQ, Variant.ORIGINAL),
        (HashType.PDQ, Variant.TRIMMED),
        (HashType.PHASH, Variant.ORIGINAL),
        (HashType.PHASH, Variant.TRIMMED),
    ]
    # the identity hash does not depend on the dihedral setting
    assert (
        s.pdq
        == compute_signals(to_jpeg(letterbox(photo_like(6), (0, 60, 0, 60))), HashingSettings()).pdq
    )


def test_trim_off_gives_no_trimmed_variants() -> None:
    settings = HashingSettings(trim_borders=False)
    s = compute_signals(to_jpeg(letterbox(photo_like(6), (0, 60, 0, 60))), settings)
    assert not s.trimmed
    assert not any(q.variant.trimmed for q in s.queries)
    assert len(s.queries) == 9


# --- quality gate -------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (90, 160, 30)])
def test_flat_image_has_no_queries(colour: tuple[int, int, int], settings: HashingSettings) -> None:
    s = compute_signals(to_png(flat(colour)), settings)
    assert s.failure is None
    assert s.pdq_quality is not None
    assert s.pdq_quality < settings.min_pdq_quality
    assert s.queries == ()
    assert not s.trimmed  # a flat image is not "all border"
    # still on record
    assert s.pdq is not None
    assert s.phash is not None


@pytest.mark.parametrize("text", ["Hello world", "Invoice 2291 overdue", "Meeting at noon, room 4"])
def test_single_line_text_has_low_quality_and_no_queries(
    text: str, settings: HashingSettings
) -> None:
    s = compute_signals(to_png(text_only(text)), settings)
    assert s.pdq_quality is not None
    assert s.pdq_quality < settings.min_pdq_quality
    assert pdq_queries(s) == []
    assert s.queries == ()  # the original's pHash goes with its PDQ


def test_gate_uses_the_setting() -> None:
    data = to_png(text_only("Hello world"))
    gated = compute_signals(data, HashingSettings(min_pdq_quality=50))
    open_gate = compute_signals(data, HashingSettings(min_pdq_quality=0))
    assert gated.queries == ()
    assert len(pdq_queries(open_gate)) == 8
    assert replace(gated, queries=open_gate.queries) == open_gate


def test_gate_applies_per_variant_to_trimmed(settings: HashingSettings) -> None:
    """A flat picture inside a frame: the frame's edges give the original a usable quality, but
    the trimmed picture is flat, so it adds no query (neither PDQ nor pHash)."""
    s = compute_signals(to_png(letterbox(flat((200, 40, 40), (400, 300)), 60)), settings)
    assert s.pdq_quality is not None
    assert s.pdq_quality >= settings.min_pdq_quality
    assert len(pdq_queries(s)) == 8
    assert not any(q.variant.trimmed for q in s.queries)
    assert not s.trimmed
    # with the gate open, the trimmed variants are there: so the gate is what removed them
    opened = compute_signals(
        to_png(letterbox(flat((200, 40, 40), (400, 300)), 60)), replace(settings, min_pdq_quality=0)
    )
    assert opened.trimmed
    assert query(opened, Variant.TRIMMED).quality == 0


def test_signals_is_frozen_record(settings: HashingSettings) -> None:
    s = compute_signals(to_png(photo_like(7)), settings)
    assert isinstance(s, Signals)
    with pytest.raises(AttributeError):
        s.pdq = "0" * 64  # type: ignore[misc]


def test_hamming() -> None:
    assert hamming("00", "00") == 0
    assert hamming("ff", "00") == 8
    assert hamming("0F", "0f") == 0
    assert hamming("8000000000000000", "0000000000000001") == 2
    assert hamming("", "") == 0
    with pytest.raises(ValueError, match="length"):
        hamming("00", "000")
    with pytest.raises(ValueError, match="hexadecimal"):
        hamming("0x", "00")
    with pytest.raises(ValueError, match="hexadecimal"):
        hamming("_1", "01")


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", MediaErrorReason.EMPTY), (b"x" * 2000, MediaErrorReason.TOO_LARGE)],
    ids=["empty", "too-large"],
)
def test_refusals_survive_a_process_pool(data: bytes, reason: MediaErrorReason) -> None:
    """Workers send exceptions back pickled; the refusal must arrive as a usable MediaError."""
    with pytest.raises(MediaError) as err:
        compute_signals(data, HashingSettings(max_bytes=1000))
    back = pickle.loads(pickle.dumps(err.value))  # noqa: S301 - our own object
    assert isinstance(back, MediaError)
    assert back.reason is reason
    assert back.detail == err.value.detail
    assert str(back) == str(err.value)


def test_decode_error_pickles(settings: HashingSettings) -> None:
    from monitor.hashing import DecodeError, decode_image

    with pytest.raises(DecodeError) as err:
        decode_image(to_png(photo_like(1))[:5000], settings)
    back = pickle.loads(pickle.dumps(err.value))  # noqa: S301 - our own object
    assert (back.reason, back.detail, back.header) == (
        err.value.reason,
        err.value.detail,
        err.value.header,
    )


def test_runs_in_a_process_pool(settings: HashingSettings) -> None:
    """Signals come back from a worker intact, and so does a refusal."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    data = to_jpeg(photo_like(2))
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        remote = pool.submit(compute_signals, data, settings).result(timeout=60)
        refused = pool.submit(compute_signals, b"", settings)
        with pytest.raises(MediaError) as err:
            refused.result(timeout=60)
        again = pool.submit(compute_signals, data, settings).result(timeout=60)  # pool still up
    assert remote == compute_signals(data, settings) == again
    assert err.value.reason is MediaErrorReason.EMPTY
