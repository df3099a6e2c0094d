"""From Signals to Matches: the banks' entries in one index per hash type, and the tier rules.

* sha256 / md5 of the file: exact lookup -> ``Tier.EXACT``, distance 0, variant ORIGINAL.
* PDQ: every PDQ query variant; identity variants (original, trimmed) match within the bank's
  ``thresholds.pdq``, reoriented ones within ``thresholds.pdq_reoriented``; ``NEAR_EXACT`` within
  ``thresholds.pdq_near_exact``, else ``MATCH``. One search per query at the largest radius any
  enabled bank needs, then a per-bank filter.
* pHash: within ``thresholds.phash``; always ``MATCH`` (64 bits are a lead, never near-exact).
* vpdq (listed videos as timed frame PDQs, see :mod:`monitor.matching.video_match`): a posted
  video's frames (and their trimmed variants) against every listed frame -> ``VIDEO`` or ``CLIP``
  matches by the bank's ``video_share`` and ``clip_seconds``; each posted frame also against the
  photo PDQ entries -> ``FRAME`` matches (a video made from a known image). A posted image's PDQ
  variants also search the listed frames -> ``FRAME`` matches (a still taken from a known video).
* Withdrawn entries and disabled banks never match; one Match per entry (the strongest).

Per entry the matcher keeps one packed int64 (bank, hash type, interned attributes) in an
:class:`~monitor.matching.entries.IdTable`; hash values live only in the indexes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.domain import (
    Bank,
    Entry,
    EntryStatus,
    FrameMatch,
    HashType,
    ListFrame,
    Match,
    MatchKind,
    Signals,
    Tier,
    Variant,
    VideoSignals,
)
from monitor.matching.entries import AttributeTable, IdTable
from monitor.matching.hashes import InvalidHash, normalize_hash
from monitor.matching.index import BinaryIndex, ExactIndex, hash_words, unique_ids
from monitor.matching.video_match import (
    MAX_PAIRS,
    FrameIndex,
    VideoTally,
    distinct_frames,
    judge,
)

if TYPE_CHECKING:
    from monitor.store.entries import EntryBatch

__all__ = ["Matcher", "MatcherLoader", "MatcherStats", "release_free_memory"]

_TYPES = (HashType.PDQ, HashType.PHASH, HashType.MD5, HashType.SHA256, HashType.VPDQ)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_BANK_SHIFT = 8
_ATTR_SHIFT = 24
_MAX_BANKS = 1 << (_ATTR_SHIFT - _BANK_SHIFT)
_MAX_REJECTED = 100  # rejected entries remembered for the report (all are counted)


def _pack(attr: int, bank: int, type_code: int) -> int:
    return (attr << _ATTR_SHIFT) | (bank << _BANK_SHIFT) | type_code


def _unpack(value: int) -> tuple[int, int, HashType]:
    return (
        value >> _ATTR_SHIFT,
        (value >> _BANK_SHIFT) & (_MAX_BANKS - 1),
        _TYPES[value & 0xFF],
    )


@dataclass(frozen=True, slots=True)
class MatcherStats:
    """What the matcher holds. Counts are of active (matchable) entries."""

    entries: int
    by_type: dict[HashType, int]
    by_bank: dict[str, dict[HashType, int]]
    enabled_banks: tuple[str, ...]
    rejected: int  # entries refused (invalid hash, unknown bank) since the matcher was built
    rejected_examples: tuple[tuple[int, str], ...] = field(default=())
    memory_bytes: int = 0
    listed_frames: int = 0  # distinct frames of the listed videos (vpdq entries) indexed


def _strength(match: Match) -> tuple[int, int, bool, bool]:
    """Smaller is stronger: tier, distance, identity over reoriented, original over trimmed."""
    return (match.tier.rank, match.distance, match.variant.reoriented, match.variant.trimmed)


class Matcher:
    """Matches Signals against the active entries of the enabled banks."""

    def __init__(self) -> None:
        self._banks: list[Bank] = []
        self._bank_code: dict[str, int] = {}
        self._binary = {HashType.PDQ: BinaryIndex(256), HashType.PHASH: BinaryIndex(64)}
        self._exact = {HashType.MD5: ExactIndex(16), HashType.SHA256: ExactIndex(32)}
        self._frames = FrameIndex()
        self._video_ids: dict[int, str] = {}  # vpdq entry id -> the list's video id
        self._table = IdTable()
        self._attributes = AttributeTable()
        self._counts: Counter[tuple[int, HashType]] = Counter()
        self._rejected = 0
        self._rejected_examples: list[tuple[int, str]] = []
        # The store's last entry event this matcher reflects (set by whoever loads it from
        # the store; list changes after it are applied in place, see monitor.runtime).
        self.event_mark: int | None = None

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(cls, banks: Iterable[Bank], entries: Iterable[Entry]) -> Matcher:
        """A matcher over ``entries`` (withdrawn ones are skipped) of ``banks``."""
        matcher = cls()
        for bank in banks:
            matcher.set_bank(bank)
        matcher.add_entries(entries)
        for binary in matcher._binary.values():
            binary.compact()
        for exact in matcher._exact.values():
            exact.compact()
        matcher._frames.compact()
        return matcher

    @classmethod
    def loader(cls, banks: Iterable[Bank]) -> MatcherLoader:
        """A builder fed with the store's column batches (see :class:`MatcherLoader`)."""
        return MatcherLoader(cls(), banks)

    def set_bank(self, bank: Bank) -> None:
        """Add a bank or replace its settings (thresholds, enabled); no index is rebuilt."""
        code = self._bank_code.get(bank.name)
        if code is None:
            if len(self._banks) >= _MAX_BANKS:
                raise ValueError(f"at most {_MAX_BANKS} banks")
            self._bank_code[bank.name] = len(self._banks)
            self._banks.append(bank)
        else:
            self._banks[code] = bank

    def bank(self, name: str) -> Bank | None:
        code = self._bank_code.get(name)
        return None if code is None else self._banks[code]

    def add_entries(self, entries: Iterable[Entry]) -> int:
        """Index active entries (an id already present is replaced; a withdrawn entry is removed).

        Invalid entries (bad hash, unknown bank) are refused one by one and counted in
        :meth:`stats`; they never stop the others. Returns how many entries are now active.
        """
        ids: dict[HashType, list[int]] = {t: [] for t in _TYPES}
        values: dict[HashType, list[str]] = {t: [] for t in _TYPES}
        packed: dict[HashType, list[int]] = {t: [] for t in _TYPES}
        withdrawn: list[int] = []
        videos: list[tuple[int, list[ListFrame], str]] = []
        for entry in entries:
            if entry.status is not EntryStatus.ACTIVE:
                withdrawn.append(entry.id)
                continue
            bank = self._bank_code.get(entry.bank)
            if bank is None:
                self._reject(entry.id, f"unknown bank {entry.bank!r}")
                continue
            try:
                value = normalize_hash(entry.hash_type, entry.value)
                frames = distinct_frames(entry.frames) if entry.hash_type.video else []
            except InvalidHash as exc:
                self._reject(entry.id, str(exc))
                continue
            if entry.hash_type.video:
                if not frames:
                    self._reject(entry.id, f"video {value!r} has no frame of usable quality")
                    continue
                videos.append((entry.id, frames, value))
            attr = self._attributes.code(entry.case_id, entry.label, entry.metadata)
            ids[entry.hash_type].append(entry.id)
            values[entry.hash_type].append(value)
            packed[entry.hash_type].append(_pack(attr, bank, _TYPE_CODE[entry.hash_type]))
        if withdrawn:
            self.withdraw(withdrawn)
        added = 0
        for hash_type in _TYPES:
            if ids[hash_type]:
                added += self._add_type(
                    hash_type, ids[hash_type], values[hash_type], packed[hash_type], videos
                )
        return added

    def _add_type(
        self,
        hash_type: HashType,
        id_list: list[int],
        value_list: list[str],
        packed_list: list[int],
        videos: Sequence[tuple[int, list[ListFrame], str]] = (),
    ) -> int:
        id_array = np.array(id_list, dtype=np.int64)
        packed_array = np.array(packed_list, dtype=np.int64)
        # the same id twice in one batch: the last one wins
        if len(unique_ids(id_array)) != len(id_array):
            order = np.argsort(id_array, kind="stable")
            ordered = id_array[order]
            last = np.ones(len(order), dtype=np.bool_)
            last[:-1] = ordered[1:] != ordered[:-1]
            keep = np.sort(order[last])
            id_array = id_array[keep]
            packed_array = packed_array[keep]
            value_list = [value_list[i] for i in keep.tolist()]
        self.withdraw(id_array.tolist())  # replacing: drop the old version first
        if hash_type in self._binary:
            self._binary[hash_type].add(id_array, value_list)
        elif hash_type in self._exact:
            self._exact[hash_type].add(id_array.tolist(), value_list)
        else:  # vpdq: the frames are indexed, the id kept for display
            latest = {entry_id: (frames, video_id) for entry_id, frames, video_id in videos}
            kept = [(i, *latest[i]) for i in id_array.tolist()]
            self._frames.add([(entry_id, frames) for entry_id, frames, _ in kept])
            self._video_ids.update((entry_id, video_id) for entry_id, _, video_id in kept)
        self._table.put_many(id_array, packed_array)
        self._count(hash_type, packed_array)
        return len(id_array)

    def _count(self, hash_type: HashType, packed: npt.NDArray[np.int64]) -> None:
        banks = (packed >> _BANK_SHIFT) & (_MAX_BANKS - 1)
        for bank in np.flatnonzero(np.bincount(banks)).tolist():
            self._counts[(bank, hash_type)] += int(np.count_nonzero(banks == bank))

    def withdraw(self, entry_ids: Iterable[int]) -> int:
        """Stop matching these entries at once; returns how many were active."""
        id_array = unique_ids(np.fromiter(entry_ids, dtype=np.int64))
        if not len(id_array):
            return 0
        old = self._table.delete_many(id_array)
        present = old >= 0
        by_type: dict[HashType, list[int]] = {}
        for entry_id, value in zip(id_array[present].tolist(), old[present].tolist(), strict=True):
            _, bank, hash_type = _unpack(value)
            by_type.setdefault(hash_type, []).append(entry_id)
            self._counts[(bank, hash_type)] -= 1
        for hash_type, gone in by_type.items():
            if hash_type in self._binary:
                self._binary[hash_type].remove(gone)
            elif hash_type in self._exact:
                self._exact[hash_type].remove(gone)
            else:
                self._frames.remove(gone)
                for entry_id in gone:
                    self._video_ids.pop(entry_id, None)
        return int(present.sum())

    def _reject(self, entry_id: int, problem: str) -> None:
        self._rejected += 1
        if len(self._rejected_examples) < _MAX_REJECTED:
            self._rejected_examples.append((entry_id, problem))

    # -- matching ---------------------------------------------------------------------------

    def match(self, signals: Signals) -> list[Match]:
        """Every entry the media item matches, strongest first (tier, distance, bank, entry)."""
        best: dict[int, Match] = {}

        def keep(match: Match) -> None:
            current = best.get(match.entry_id)
            if current is None or _strength(match) < _strength(current):
                best[match.entry_id] = match

        for hash_type, value in ((HashType.SHA256, signals.sha256), (HashType.MD5, signals.md5)):
            for match in self._exact_matches(hash_type, value):
                keep(match)
        enabled = [bank for bank in self._banks if bank.enabled]
        if enabled and signals.video is not None:
            self._video_matches(signals.video, enabled, keep)
        elif enabled:
            for query in signals.queries:
                for match in self._near_matches(
                    query.hash_type, query.value, query.variant, enabled
                ):
                    keep(match)
                if query.hash_type is HashType.PDQ:
                    for match in self._still_matches(query.value, query.variant, enabled):
                        keep(match)
        return sorted(best.values(), key=lambda m: (m.tier.rank, m.distance, m.bank, m.entry_id))

    def _video_matches(
        self, video: VideoSignals, enabled: list[Bank], keep: Callable[[Match], None]
    ) -> None:
        """A posted video: its frames against photo entries (FRAME) and listed videos."""
        frames = video.frames
        if not frames:
            return
        radius = max(bank.thresholds.pdq for bank in enabled)
        tallies: dict[int, VideoTally] = {}
        # photo entries: the closest frame's match, and every frame that matched (evidence)
        photos: dict[int, tuple[Match, dict[int, int]]] = {}
        for position, frame in enumerate(frames):
            variants = [(frame.pdq, Variant.ORIGINAL)]
            if frame.trimmed_pdq:
                variants.append((frame.trimmed_pdq, Variant.TRIMMED))
            for value, variant in variants:
                for match in self._near_matches(HashType.PDQ, value, variant, enabled):
                    have = photos.get(match.entry_id)
                    if have is None or _strength(match) < _strength(have[0]):
                        have = photos[match.entry_id] = (match, have[1] if have else {})
                    seen = have[1].get(position, match.distance)
                    have[1][position] = min(seen, match.distance)
                if not len(self._frames) or radius < 0:
                    continue
                for hit in self._frames.search(value.strip().lower(), min(radius, 256)):
                    resolved = self._resolve(hit.entry_id)
                    if resolved is None or hit.distance > resolved[0].thresholds.pdq:
                        continue
                    tallies.setdefault(hit.entry_id, VideoTally()).add(position, hit, variant)
        for match, matched in photos.values():
            positions = sorted(matched)
            pairs = tuple(
                FrameMatch(frames[p].timestamp, None, matched[p]) for p in positions[:MAX_PAIRS]
            )
            span = (frames[positions[0]].timestamp, frames[positions[-1]].until)
            keep(replace(match, kind=MatchKind.FRAME, frames=pairs, span=span))
        duration = None if video.truncated else video.duration
        for entry_id, tally in tallies.items():
            resolved = self._resolve(entry_id)
            if resolved is None:
                continue
            bank, case_id, label, metadata = resolved
            verdict = judge(
                tally, frames, self._frames.frame_count(entry_id), bank.thresholds, duration
            )
            if verdict is None:
                continue
            keep(
                Match(
                    entry_id=entry_id,
                    bank=bank.name,
                    hash_type=HashType.VPDQ,
                    entry_value=self._video_ids.get(entry_id, ""),
                    query_value=verdict.query_value,
                    variant=verdict.variant,
                    distance=verdict.distance,
                    tier=verdict.tier,
                    threshold=bank.thresholds.pdq,
                    case_id=case_id,
                    label=label,
                    metadata=metadata,
                    kind=verdict.kind,
                    frames=verdict.pairs,
                    coverage=verdict.coverage,
                    span=verdict.span,
                )
            )

    def _still_matches(self, value: str, variant: Variant, enabled: list[Bank]) -> list[Match]:
        """A posted image near a frame of a listed video: one FRAME match per video, closest."""
        if not len(self._frames):
            return []
        radius = max(self._threshold(bank, HashType.PDQ, variant) for bank in enabled)
        if radius < 0:
            return []
        query_value = value.strip().lower()
        closest: dict[int, Match] = {}
        for hit in self._frames.search(query_value, min(radius, 256)):
            if hit.entry_id in closest:
                continue  # results come closest first
            resolved = self._resolve(hit.entry_id)
            if resolved is None:
                continue
            bank, case_id, label, metadata = resolved
            threshold = self._threshold(bank, HashType.PDQ, variant)
            if hit.distance > threshold:
                continue
            near = hit.distance <= bank.thresholds.pdq_near_exact
            closest[hit.entry_id] = Match(
                entry_id=hit.entry_id,
                bank=bank.name,
                hash_type=HashType.VPDQ,
                entry_value=self._video_ids.get(hit.entry_id, ""),
                query_value=query_value,
                variant=variant,
                distance=hit.distance,
                tier=Tier.NEAR_EXACT if near else Tier.MATCH,
                threshold=threshold,
                case_id=case_id,
                label=label,
                metadata=metadata,
                kind=MatchKind.FRAME,
                frames=(FrameMatch(None, hit.timestamp, hit.distance),),
            )
        return list(closest.values())

    def _exact_matches(self, hash_type: HashType, value: str) -> list[Match]:
        if not value:
            return []
        value = value.strip().lower()
        found: list[Match] = []
        for entry_id in self._exact[hash_type].lookup(value):
            resolved = self._resolve(entry_id)
            if resolved is None:
                continue
            bank, case_id, label, metadata = resolved
            found.append(
                Match(
                    entry_id=entry_id,
                    bank=bank.name,
                    hash_type=hash_type,
                    entry_value=value,
                    query_value=value,
                    variant=Variant.ORIGINAL,
                    distance=0,
                    tier=Tier.EXACT,
                    threshold=0,
                    case_id=case_id,
                    label=label,
                    metadata=metadata,
                    kind=MatchKind.FILE,
                )
            )
        return found

    def _near_matches(
        self, hash_type: HashType, value: str, variant: Variant, enabled: list[Bank]
    ) -> list[Match]:
        index = self._binary.get(hash_type)
        if index is None or not len(index):
            return []
        radius = max(self._threshold(bank, hash_type, variant) for bank in enabled)
        if radius < 0:
            return []
        query_value = value.strip().lower()
        found: list[Match] = []
        for entry_id, distance in index.search(query_value, min(radius, hash_type.bits)):
            resolved = self._resolve(entry_id)
            if resolved is None:
                continue
            bank, case_id, label, metadata = resolved
            threshold = self._threshold(bank, hash_type, variant)
            if distance > threshold:
                continue
            near = hash_type is HashType.PDQ and distance <= bank.thresholds.pdq_near_exact
            found.append(
                Match(
                    entry_id=entry_id,
                    bank=bank.name,
                    hash_type=hash_type,
                    entry_value=index.get(entry_id) or "",
                    query_value=query_value,
                    variant=variant,
                    distance=distance,
                    tier=Tier.NEAR_EXACT if near else Tier.MATCH,
                    threshold=threshold,
                    case_id=case_id,
                    label=label,
                    metadata=metadata,
                )
            )
        return found

    @staticmethod
    def _threshold(bank: Bank, hash_type: HashType, variant: Variant) -> int:
        if hash_type is HashType.PDQ:
            thresholds = bank.thresholds
            return thresholds.pdq_reoriented if variant.reoriented else thresholds.pdq
        return bank.thresholds.phash

    def _resolve(self, entry_id: int) -> tuple[Bank, str | None, str | None, dict[str, str]] | None:
        """The entry's bank and attributes, or None if it is gone or its bank is disabled."""
        packed = self._table.get(entry_id)
        if packed is None:
            return None
        attr, bank_code, _ = _unpack(packed)
        bank = self._banks[bank_code]
        if not bank.enabled:
            return None
        case_id, label, metadata = self._attributes.get(attr)
        return bank, case_id, label, metadata

    # -- reporting --------------------------------------------------------------------------

    def stats(self) -> MatcherStats:
        by_type: dict[HashType, int] = {t: 0 for t in _TYPES}
        by_bank: dict[str, dict[HashType, int]] = {b.name: {} for b in self._banks}
        for (bank, hash_type), count in sorted(self._counts.items()):
            if count:
                by_type[hash_type] += count
                by_bank[self._banks[bank].name][hash_type] = count
        memory = self._table.memory_bytes()
        memory += sum(index.memory_bytes() for index in self._binary.values())
        memory += sum(index.memory_bytes() for index in self._exact.values())
        memory += self._frames.memory_bytes()
        return MatcherStats(
            entries=sum(by_type.values()),
            by_type=by_type,
            by_bank=by_bank,
            enabled_banks=tuple(b.name for b in self._banks if b.enabled),
            rejected=self._rejected,
            rejected_examples=tuple(self._rejected_examples),
            memory_bytes=memory,
            listed_frames=len(self._frames),
        )


class MatcherLoader:
    """Builds a :class:`Matcher` from the store's column batches, without an object per entry.

    Feed it every :class:`~monitor.store.entries.EntryBatch` of
    :meth:`~monitor.store.entries.EntriesMixin.iter_entry_columns` with :meth:`add` (a little
    work per batch: the hashes become index words, bank and attributes one packed int64), then
    :meth:`finish` builds the indexes once (the slow part, which releases the GIL: a caller may
    run it in a thread). Entries of banks the matcher does not know are refused as in
    :meth:`Matcher.add_entries`; listed videos and malformed values go through it.
    """

    def __init__(self, matcher: Matcher, banks: Iterable[Bank]) -> None:
        self._matcher = matcher
        by_id: dict[int, int] = {}
        for bank in banks:
            matcher.set_bank(bank)
            if bank.id is not None:
                by_id[bank.id] = matcher._bank_code[bank.name]
        self._bank_ids = np.array(sorted(by_id), dtype=np.int64)
        self._bank_codes = np.array([by_id[i] for i in sorted(by_id)], dtype=np.int64)
        self._attributes: list[int] = []  # the store's attribute number -> the matcher's code
        self._attribute_codes = np.empty(0, dtype=np.int64)
        self._parts: dict[HashType, list[tuple[npt.NDArray[np.int64], ...]]] = {}
        self._values: dict[HashType, list[npt.NDArray[np.uint8] | npt.NDArray[np.uint64]]] = {}
        self._entries: list[Entry] = []

    def add(self, batch: EntryBatch) -> None:
        matcher = self._matcher
        if batch.new_attributes:
            self._attributes.extend(
                matcher._attributes.code(case_id, label, metadata)
                for case_id, label, metadata in batch.new_attributes
            )
            self._attribute_codes = np.array(self._attributes, dtype=np.int64)
        for columns in batch.columns:
            hash_type = columns.hash_type
            ids, values = columns.ids, columns.values
            pos = np.searchsorted(self._bank_ids, columns.bank_ids)
            pos = np.minimum(pos, max(len(self._bank_ids) - 1, 0))
            known = (
                self._bank_ids[pos] == columns.bank_ids
                if len(self._bank_ids)
                else np.zeros(len(ids), dtype=np.bool_)
            )
            if not known.all():
                for entry_id, bank_id in zip(
                    ids[~known].tolist(), columns.bank_ids[~known].tolist(), strict=True
                ):
                    matcher._reject(entry_id, f"unknown bank (id {bank_id})")
                ids, values, pos = ids[known], values[known], pos[known]
                attributes = columns.attributes[known]
            else:
                attributes = columns.attributes
            packed = self._attribute_codes[attributes] << _ATTR_SHIFT
            packed |= self._bank_codes[pos] << _BANK_SHIFT
            packed |= _TYPE_CODE[hash_type]
            self._parts.setdefault(hash_type, []).append((ids, packed))
            words = hash_words(values) if hash_type in matcher._binary else values
            self._values.setdefault(hash_type, []).append(words)
        self._entries.extend(batch.entries)

    def finish(self) -> Matcher:
        """Build the indexes; the loader is spent afterwards.

        Memory: the batches' arrays are copied into one and let go one by one, and freed heap
        memory is handed back to the system between the steps (see
        :func:`release_free_memory`), so the peak stays near the final size.
        """
        matcher = self._matcher
        for hash_type in list(self._parts):
            parts = self._parts.pop(hash_type)
            ids = _gather([p[0] for p in parts])
            packed = _gather([p[1] for p in parts])
            del parts
            chunks = self._values.pop(hash_type)
            if hash_type in matcher._binary:
                words = _gather([c.astype(np.uint64, copy=False) for c in chunks])
                chunks.clear()
                release_free_memory()
                matcher._binary[hash_type].add(ids, words)
                del words
            else:
                raw = _gather([c.astype(np.uint8, copy=False) for c in chunks])
                chunks.clear()
                matcher._exact[hash_type].add_bytes(ids, raw)
                del raw
            release_free_memory()
            matcher._table.put_many(ids, packed)
            matcher._count(hash_type, packed)
            del ids, packed
            release_free_memory()
        matcher.add_entries(self._entries)
        self._entries = []
        for binary in matcher._binary.values():
            binary.compact()
        for exact in matcher._exact.values():
            exact.compact()
        matcher._frames.compact()
        release_free_memory()
        return matcher


def release_free_memory() -> None:
    """Hand memory freed on the heap back to the system (Linux, glibc; elsewhere nothing).

    Arrays of a few megabytes come from the heap once glibc has raised its mmap threshold, and
    the heap keeps what they leave behind: building a ten-million-entry matcher would otherwise
    leave the process hundreds of megabytes larger than the matcher."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def _gather(arrays: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """One array of the (non-empty) list's, letting each part go once it is copied."""
    if len(arrays) == 1:
        return arrays.pop()
    out = np.empty((sum(len(a) for a in arrays), *arrays[0].shape[1:]), dtype=arrays[0].dtype)
    at = 0
    arrays.reverse()
    while arrays:
        part = arrays.pop()
        out[at : at + len(part)] = part
        at += len(part)
    return out
