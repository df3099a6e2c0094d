"""Walk the paths given to `monitor scan`: files, folders (recursively) and Desktop exports."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.domain import MediaKind, SightingSource, SourceKind
from monitor.errors import InputError
from monitor.sources.desktop_export import ExportProblem, is_desktop_export, read_desktop_export


@dataclass(frozen=True, slots=True)
class LocalItem:
    """One file to hash. ``source.key`` gets the file's SHA-256 appended once it is known."""

    path: Path
    source: SightingSource


@dataclass(slots=True)
class WalkReport:
    problems: list[ExportProblem]
    skipped_links: int = 0


def iter_local_items(paths: Sequence[Path], report: WalkReport) -> Iterator[LocalItem]:
    """Yield every file under ``paths``. Symbolic links are never followed (counted, skipped).

    A folder holding ``result.json`` is read as a Telegram Desktop export: only the media its
    messages reference are scanned, each with its chat, message and post time.
    """
    for given in paths:
        if given.is_symlink():
            report.skipped_links += 1
            continue
        if not given.exists():
            raise InputError(f"{given}: no such file or folder")
        if given.is_file():
            yield _file_item(given)
            continue
        yield from _walk(given, report)


def _walk(root: Path, report: WalkReport) -> Iterator[LocalItem]:
    if is_desktop_export(root):
        media, problems = read_desktop_export(root)
        report.problems.extend(problems)
        for item in media:
            yield LocalItem(path=item.path, source=item.source)
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        exports = [d for d in dirnames if is_desktop_export(here / d)]
        dirnames[:] = sorted(
            d for d in dirnames if d not in exports and not (here / d).is_symlink()
        )
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink():
                report.skipped_links += 1
            elif path.is_file():
                yield _file_item(path)
        for name in sorted(exports):
            yield from _walk(here / name, report)


def _file_item(path: Path) -> LocalItem:
    absolute = path.resolve()
    return LocalItem(
        path=absolute,
        source=SightingSource(
            kind=SourceKind.FILE,
            key=f"file:{absolute}",
            path=str(absolute),
            media_kind=MediaKind.IMAGE,
        ),
    )
