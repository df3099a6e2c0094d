"""Compact per-entry bookkeeping for the matcher: no Python object per entry.

:class:`IdTable` maps entry ids to one int64 (the matcher packs bank, hash type and attributes
into it) with sorted numpy arrays plus a small dict of recent changes. :class:`AttributeTable`
interns the (case_id, label, metadata) triple: entries from one case usually share it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

__all__ = ["AttributeTable", "Attributes", "IdTable"]

I64 = npt.NDArray[np.int64]
_MISSING = -1


class IdTable:
    """int64 id -> non-negative int64 value, with bulk put, get and delete."""

    def __init__(self, *, delta_limit: int = 32768) -> None:
        self._ids: I64 = np.empty(0, dtype=np.int64)  # sorted, unique
        self._values: I64 = np.empty(0, dtype=np.int64)  # -1: deleted
        self._delta: dict[int, int] = {}  # ids not in the main arrays
        self._main_live = 0
        self._delta_limit = max(1, delta_limit)

    def __len__(self) -> int:
        return self._main_live + len(self._delta)

    def memory_bytes(self) -> int:
        return int(self._ids.nbytes + self._values.nbytes) + 100 * len(self._delta)

    def _main_positions(self, ids: I64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        if not len(self._ids):
            return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=np.bool_)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return pos, self._ids[pos] == ids

    def get_many(self, ids: I64) -> I64:
        """Values for ``ids``; -1 where an id is absent."""
        pos, found = self._main_positions(ids)
        out = np.where(found, self._values[pos] if len(self._values) else _MISSING, _MISSING)
        result: I64 = out.astype(np.int64)
        if self._delta:
            for i, entry_id in enumerate(ids.tolist()):
                value = self._delta.get(entry_id)
                if value is not None:
                    result[i] = value
        return result

    def get(self, entry_id: int) -> int | None:
        value = int(self.get_many(np.array([entry_id], dtype=np.int64))[0])
        return None if value < 0 else value

    def put_many(self, ids: I64, values: I64) -> None:
        """Set values (>= 0); ids must be unique within the call."""
        if not len(self._ids) and not self._delta and len(ids) > self._delta_limit:
            self._merge(ids, values)  # a first bulk load: the arrays as they are
            return
        pos, found = self._main_positions(ids)
        if found.any():
            revived = int((self._values[pos[found]] < 0).sum())
            self._values[pos[found]] = values[found]
            self._main_live += revived
        new_ids = ids[~found]
        new_values = values[~found]
        if len(self._delta) + len(new_ids) > max(self._delta_limit, self._main_live // 8):
            self._merge(new_ids, new_values)
        else:
            self._delta.update(zip(new_ids.tolist(), new_values.tolist(), strict=True))

    def delete_many(self, ids: I64) -> I64:
        """Delete ids; returns their old values (-1 where absent)."""
        old = self.get_many(ids)
        pos, found = self._main_positions(ids)
        live = found & (self._values[pos] >= 0) if len(self._values) else found
        self._values[pos[live]] = _MISSING
        self._main_live -= int(live.sum())
        if self._delta:
            for entry_id in ids.tolist():
                self._delta.pop(entry_id, None)
        if len(self._ids) - self._main_live > max(self._delta_limit, self._main_live):
            self._merge(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        return old

    def _merge(self, ids: I64, values: I64) -> None:
        keep = self._values >= 0
        delta_ids = np.fromiter(self._delta.keys(), dtype=np.int64, count=len(self._delta))
        delta_values = np.fromiter(self._delta.values(), dtype=np.int64, count=len(self._delta))
        main_ids = self._ids if keep.all() else self._ids[keep]
        main_values = self._values if keep.all() else self._values[keep]
        id_parts = [a for a in (main_ids, delta_ids, ids) if len(a)]
        value_parts = [a for a in (main_values, delta_values, values) if len(a)]
        all_ids = np.concatenate(id_parts) if len(id_parts) > 1 else _first(id_parts)
        all_values = np.concatenate(value_parts) if len(value_parts) > 1 else _first(value_parts)
        self._ids = self._values = np.empty(0, dtype=np.int64)  # the old arrays go first
        if len(all_ids) > 1 and not bool(np.all(all_ids[1:] > all_ids[:-1])):
            order = np.argsort(all_ids, kind="stable")
            all_ids, all_values = all_ids[order], all_values[order]
        self._ids = all_ids
        self._values = all_values
        self._main_live = len(self._ids)
        self._delta = {}

    def items(self) -> tuple[I64, I64]:
        """Every live (id, value), ids ascending."""
        self._merge(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        return self._ids.copy(), self._values.copy()


def _first(arrays: list[I64]) -> I64:
    return arrays[0] if arrays else np.empty(0, dtype=np.int64)


Attributes = tuple[str | None, str | None, tuple[tuple[str, str], ...]]


class AttributeTable:
    """Interns (case_id, label, metadata) triples; code 0 is the empty triple."""

    def __init__(self) -> None:
        empty: Attributes = (None, None, ())
        self._codes: dict[Attributes, int] = {empty: 0}
        self._values: list[Attributes] = [empty]

    def __len__(self) -> int:
        return len(self._values)

    def code(self, case_id: str | None, label: str | None, metadata: Mapping[str, str]) -> int:
        key: Attributes = (case_id, label, tuple(sorted(metadata.items())))
        code = self._codes.get(key)
        if code is None:
            code = len(self._values)
            self._codes[key] = code
            self._values.append(key)
        return code

    def get(self, code: int) -> tuple[str | None, str | None, dict[str, str]]:
        case_id, label, metadata = self._values[code]
        return case_id, label, dict(metadata)
