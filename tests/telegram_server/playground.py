"""A playground for trying the monitor by hand against the loopback server.

``python -m tests.telegram_server --dir ./loopback`` (see ``__main__.py``) starts a
``TelegramTestServer`` on 127.0.0.1 with a small world (one account, a public channel
``@demo_feed``, a private channel joinable by an invite link, a few photos already posted), writes
a monitor config, the server's key, a hash list and the invite link into the folder, prints the
commands to run, then posts a synthetic photo to ``@demo_feed`` every few seconds (every third
one a "reported" photo re-encoded at another JPEG quality: a PDQ match, never a SHA-256 one).

Everything is synthetic (``monitor.synthetic``), never real imagery, and the server listens on
127.0.0.1 only. ``serve()`` is the whole thing as one coroutine, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.config import HashingSettings
from monitor.hashing import compute_signals
from monitor.synthetic import photo_like, to_jpeg

from .models import ChannelRecord, UserRecord
from .server import TelegramTestServer
from .world import World

PHONE = "+15550100"
CODE = "12345"
FIRST_NAME = "Monitor"
FEED_USERNAME = "demo_feed"
FEED_TITLE = "Demo feed"
PRIVATE_TITLE = "Demo private"
API_ID = 1
API_HASH = "loopback-test-only-0000000000000"  # not config.example.toml's placeholder
BANK = "reported"

MARKER = ".telegram-playground"
PEM = "server.pem"
CONFIG = "monitor.toml"
HASH_LIST = "reported.csv"
INVITE = "invite.txt"
STORE = "monitor.sqlite3"

SIZE = (640, 480)
# The "reported" originals (synthetic, PDQ quality high for seeds 0-149 at 640 x 480).
REPORTED_SEEDS = (11, 12, 13)
REPORTED_QUALITY = 90
# Live re-posts of reported photos are re-encoded at one of these qualities (never the original
# one), so their bytes (SHA-256) differ from anything listed while their PDQ stays close.
REQUALITIES = (60, 72, 50, 80)
UNRELATED_SEED_BASE = 1000  # unrelated photos: seed 1000 + n


@dataclass(frozen=True, slots=True)
class Photo:
    jpeg: bytes
    reported: int | None = None  # index into REPORTED_SEEDS, or None for an unrelated photo
    quality: int = REPORTED_QUALITY

    @property
    def case_id(self) -> str | None:
        return None if self.reported is None else case_id(self.reported)

    def describe(self) -> str:
        if self.reported is None:
            return "unrelated"
        how = (
            "the listed file itself"
            if self.quality == REPORTED_QUALITY
            else f"re-encoded at JPEG quality {self.quality}: a PDQ match, not a SHA-256 one"
        )
        return f"REPORTED ({self.case_id}, {how})"


def case_id(index: int) -> str:
    return f"demo-case-{index + 1}"


def reported_photo(index: int, quality: int = REPORTED_QUALITY) -> Photo:
    seed = REPORTED_SEEDS[index % len(REPORTED_SEEDS)]
    return Photo(to_jpeg(photo_like(seed, SIZE), quality), index % len(REPORTED_SEEDS), quality)


def unrelated_photo(n: int) -> Photo:
    return Photo(to_jpeg(photo_like(UNRELATED_SEED_BASE + n, SIZE), 85))


def live_photo(n: int) -> Photo:
    """The ``n``-th live post (1-based): every third a reported photo re-encoded, else unrelated."""
    if n % 3 == 0:
        k = n // 3 - 1
        return reported_photo(k, REQUALITIES[k % len(REQUALITIES)])
    return unrelated_photo(n)


@dataclass
class Playground:
    """What ``serve()`` set up (returned by it once stopped, for tests to inspect)."""

    server: TelegramTestServer
    directory: Path
    user: UserRecord
    feed: ChannelRecord
    private: ChannelRecord
    invite_link: str
    live_posts: list[tuple[int, Photo]] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.server.world

    def path(self, name: str) -> Path:
        return self.directory / name


def prepare_directory(directory: Path) -> Path:
    """Create ``directory`` (or clear a previous playground's files from it) and return it
    absolute. A non-empty folder that is not a playground's is refused (``ValueError``): the
    world is new on every start, so an old store's session and hits would point nowhere."""
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is not a folder")
    if directory.exists() and any(directory.iterdir()) and not (directory / MARKER).exists():
        raise ValueError(
            f"{directory} is not empty and was not made by the playground; choose another --dir"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name in (PEM, CONFIG, HASH_LIST, INVITE):
        (directory / name).unlink(missing_ok=True)
    for stale in directory.glob(f"{STORE}*"):  # the store and its -wal / -shm / -journal
        stale.unlink()
    (directory / MARKER).write_text(
        "made by `python -m tests.telegram_server`; safe to delete\n", encoding="utf-8"
    )
    return directory


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def config_text(directory: Path, server: TelegramTestServer) -> str:
    d = directory
    return "\n".join(
        [
            "# Written by `python -m tests.telegram_server` (the loopback playground): a monitor",
            "# config pointed at the loopback server on 127.0.0.1. Rewritten on every start.",
            f"data_dir = {_toml_string(str(d))}",
            "",
            "[database]",
            f"url = {_toml_string(f'sqlite+aiosqlite:///{d / STORE}')}",
            "",
            "[logging]",
            'level = "info"',
            "",
            "[telegram]",
            f"api_id = {API_ID}",
            f"api_hash = {_toml_string(API_HASH)}",
            "join_interval = 1.0",
            "reconcile_interval = 30.0",
            "",
            "[telegram.server]",
            f"host = {_toml_string(server.host)}",
            f"port = {server.port}",
            f"dc_id = {server.dc_id}",
            f"public_key = {_toml_string(str(d / PEM))}",
            "",
            "[alerts]",
            'chat = "me"',
            "",
        ]
    )


def write_hash_list(path: Path, settings: HashingSettings | None = None) -> int:
    """The PDQ of every reported original, one CSV row each; returns how many."""
    settings = settings or HashingSettings()
    rows = []
    for index in range(len(REPORTED_SEEDS)):
        signals = compute_signals(reported_photo(index).jpeg, settings)
        if signals.pdq is None:  # cannot happen for these seeds; say so rather than skip
            raise RuntimeError(f"no PDQ for reported seed {REPORTED_SEEDS[index]}")
        rows.append(
            {
                "hash_type": "pdq",
                "hash": signals.pdq,
                "case_id": case_id(index),
                "label": "synthetic test image (loopback playground)",
            }
        )
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, ["hash_type", "hash", "case_id", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def instructions(pg: Playground, interval: float, posts: int | None) -> Iterator[str]:
    d = pg.directory
    config = shlex.quote(str(pg.path(CONFIG)))
    monitor = f"monitor --config {config}"
    posting = (
        f"Posting a synthetic photo to @{FEED_USERNAME} every {interval:g} s"
        + (f" ({posts} in all, then only serving)" if posts is not None else "")
        + ": every third one a reported photo re-encoded at another JPEG quality"
        " (a PDQ match, not a SHA-256 one), the others unrelated."
    )
    server = pg.server
    yield f"Loopback Telegram playground on {server.host}:{server.port} (DC {server.dc_id})."
    yield "Everything here is synthetic (photos drawn in code); it listens on 127.0.0.1 only."
    yield ""
    yield f"Wrote into {d}:"
    yield f"  {PEM:<13} the server's RSA public key"
    yield f"  {CONFIG:<13} a monitor config for this server (its store: {STORE} here)"
    yield (
        f"  {HASH_LIST:<13} a hash list: the PDQ of {len(REPORTED_SEEDS)} synthetic 'reported'"
        f" photos ({case_id(0)} .. {case_id(len(REPORTED_SEEDS) - 1)})"
    )
    yield f"  {INVITE:<13} the invite link of the private channel: {pg.invite_link}"
    yield ""
    yield (
        f"World: account {PHONE} ({FIRST_NAME}, login code {CODE}); public channel "
        f"@{FEED_USERNAME} ({len(pg.feed.messages)} photos, 1 reported); private channel "
        f"'{PRIVATE_TITLE}' ({len(pg.private.messages)} photos, 1 reported)."
    )
    yield ""
    yield "In another shell, in the repository with the venv active (or use .venv/bin/monitor):"
    yield f"  {monitor} login --phone {PHONE}"
    yield f"      (at 'Login code:' type {CODE})"
    yield f"  {monitor} lists import {shlex.quote(str(pg.path(HASH_LIST)))} --bank {BANK}"
    yield f"  {monitor} channels add @{FEED_USERNAME}"
    yield f'  {monitor} channels add "$(cat {shlex.quote(str(pg.path(INVITE)))})"'
    yield f"  {monitor} run"
    yield "      (live: joins both channels, records hits, alerts to the account's Saved Messages)"
    yield "  then Ctrl-C the daemon, let a few posts go by here, and recover them with:"
    yield f"  {monitor} run --once"
    yield f"  {monitor} hits list"
    yield ""
    yield posting
    yield "Ctrl-C here stops the server."


def _stamp() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


async def serve(
    directory: Path | str,
    port: int = 0,
    interval: float = 5.0,
    posts: int | None = None,
    *,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> Playground:
    """Run the playground until ``stop`` is set (or the task is cancelled); return what it set up.

    Writes the files into ``directory``, prints the instructions to ``out`` (stdout), sets
    ``ready`` once the files are written and the server listens, then posts to ``@demo_feed``
    every ``interval`` seconds, ``posts`` times (``None``: without end), and keeps serving.
    ``ValueError`` for a ``directory`` it may not use, ``OSError`` if the port is taken.
    """

    def say(line: str = "") -> None:
        stream = out or sys.stdout
        print(line, file=stream, flush=True)

    root = prepare_directory(Path(directory))
    server = TelegramTestServer()
    server.port = port  # 0: OS-chosen; start_listening() keeps a fixed one
    await server.start()
    try:
        world = server.world
        user = world.create_user(PHONE, CODE, first_name=FIRST_NAME)
        feed = world.create_channel(FEED_USERNAME, FEED_TITLE, about="Synthetic playground feed")
        private = world.create_channel(None, PRIVATE_TITLE, about="Synthetic private channel")
        invite_link = f"https://t.me/+{world.create_invite(private)}"
        pg = Playground(server, root, user, feed, private, invite_link)

        # Posted before anything connects: the daemon's first pass finds them in the history.
        for photo in (unrelated_photo(-1), reported_photo(0), unrelated_photo(-2)):
            world.post_photo(feed, photo.jpeg)
        for photo in (reported_photo(1, 65), unrelated_photo(-3)):
            world.post_photo(private, photo.jpeg)

        pg.path(PEM).write_text(server.public_key_pem, encoding="ascii")
        pg.path(CONFIG).write_text(config_text(root, server), encoding="utf-8")
        write_hash_list(pg.path(HASH_LIST))
        pg.path(INVITE).write_text(invite_link + "\n", encoding="utf-8")

        for line in instructions(pg, interval, posts):
            say(line)
        say()
        if ready is not None:
            ready.set()

        stopped = stop or asyncio.Event()
        n = 0
        while posts is None or n < posts:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), interval)
            if stopped.is_set():
                break
            n += 1
            photo = await asyncio.to_thread(live_photo, n)
            msg_id = world.post_photo(feed, photo.jpeg)
            pg.live_posts.append((msg_id, photo))
            say(f"{_stamp()} @{FEED_USERNAME} message {msg_id}: {photo.describe()}")
        if not stopped.is_set():
            say(f"{_stamp()} {n} post(s) made; still serving (Ctrl-C to stop).")
            await stopped.wait()
        return pg
    finally:
        await server.stop()
        for problem in server.world.handler_errors:
            say(f"server bug (a handler crashed): {problem}")
