"""Report, not a test: the real daemon end to end, and its memory over a long run.

    .venv/bin/python -m benchmarks.daemon_bench [--quick] [--only end-to-end|memory ...]
        [--list-size 1000000] [--channels 5] [--stream 30000] [--big-list 10000000]
        [--photo-size 1280x960]

``monitor run`` (the command line's daemon, in a child process, with the default concurrency and
hashing pool) against the loopback MTProto server of the test suite (``tests/telegram_server``,
in this process), on an SQLite store holding a ``--list-size`` hash list (random PDQs, built
once and cached under ``.bench-cache/``) plus the PDQs of half of a pool of photo-like JPEGs made
in code (1280x960, quality 87). Every post is one of the pool's photos with a JPEG comment of its
own, so each post is new media (its own Telegram media id and SHA-256) that the daemon downloads,
hashes, matches and records; half of the posts are of listed photos and become hits.

end-to-end
    *latency*: photos posted in bursts every 0.5 s, round-robin over ``--channels`` channels, at
    the target rate of 50 photos/s; the time from each post to the commit of its hit (the
    daemon logs ``hit`` after the commit; the log line's time is taken) as p50/p95/p99.
    *throughput*: bursts offered at twice the target rate, faster than the daemon takes them;
    photos per second from the first post to the last committed sighting. Each is repeated;
    the figures are medians of the rounds, with their spread. Each round also prints the CPU
    time per photo of the daemon, of its children (the hashing workers) and of this process
    (the server and the poster).
memory
    *stream*: ``--stream`` photo messages, posted as fast as the daemon records them, with the
    daemon's resident memory sampled as they go (printed as a series). The media-id cache is
    set to 5,000 entries so that it is full after warm-up; the figure is the growth from the
    end of warm-up (10 % of the stream, or the cache's size if later) to the end. Flat means:
    less than 50 MiB and less than 10 % of the warm size. The reconciler runs at its default
    interval meanwhile (its passes meet every message again). *cache*: the bytes one entry of
    the media-id cache takes (measured here, on real signals), and so a full default cache.
    *big list*: the daemon started on a ``--big-list`` store (random PDQs, cached): its
    resident memory once the list is loaded (target: under 1.5 GiB), the peak while loading,
    and the load time.

Resident memory is the daemon's main process (``VmRSS``); its children (the hashing workers and
multiprocessing's resource tracker) are listed beside it. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._matching_data import random_store, store_path
from benchmarks.common import Figure, machine, print_table, versions
from monitor.config import HashingSettings, TelegramSettings
from monitor.domain import HashType, ListEntry
from monitor.hashing import compute_media_signals, compute_signals
from monitor.synthetic import photo_like, to_jpeg
from monitor.telegram.processor import SignalsCache
from tests.integration.daemon.harness import Env, make_env
from tests.telegram_server import ChannelRecord, TelegramTestServer

E2E = "end-to-end"
MEMORY = "memory"
GROUPS = (E2E, MEMORY)

CACHE = Path(__file__).resolve().parents[1] / ".bench-cache"
STORE_SEED = 7  # the matching benchmark's: one cached store of each size serves both

TARGET_RATE = 50.0  # photos/s
TARGET_P95 = 1.0  # seconds, post to committed hit
BIG_LIST_LIMIT_MIB = 1536.0  # 1.5 GiB
GROWTH_LIMIT_MIB = 50.0
GROWTH_LIMIT_SHARE = 0.10


@dataclass(frozen=True)
class Params:
    list_size: int = 1_000_000
    channels: int = 5
    photo_size: tuple[int, int] = (1280, 960)
    quality: int = 87
    pool: int = 40  # distinct photos; half of them listed
    burst_every: float = 0.5  # seconds between bursts
    latency_rounds: int = 3
    latency_seconds: float = 10.0  # per round, at TARGET_RATE
    throughput_rounds: int = 3
    throughput_photos: int = 600  # per round, offered at twice TARGET_RATE
    stream: int = 30_000  # messages in the memory run
    stream_window: int = 200  # posted but not yet recorded, at most
    samples: int = 15  # RSS samples printed over the stream
    cache_size: int = 5_000  # [telegram.media] cache_size: full well before the stream ends
    big_list: int = 10_000_000
    startup_timeout: float = 900.0


FULL = Params()
QUICK = Params(
    list_size=5_000,
    channels=2,
    photo_size=(320, 240),
    pool=4,
    latency_rounds=1,
    latency_seconds=1.0,
    throughput_rounds=1,
    throughput_photos=20,
    stream=60,
    stream_window=20,
    samples=4,
    cache_size=20,
    big_list=5_000,
    startup_timeout=120.0,
)

Out = Callable[[str], None]


# --- inputs -------------------------------------------------------------------------------------


def photo_pool(params: Params) -> list[bytes]:
    """Photo-like JPEGs made in code (never real imagery), cached under ``.bench-cache/``."""
    w, h = params.photo_size
    folder = CACHE / f"photos-{w}x{h}-q{params.quality}"
    folder.mkdir(parents=True, exist_ok=True)
    pool = []
    for seed in range(params.pool):
        path = folder / f"{seed:04d}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(to_jpeg(photo_like(7000 + seed, (w, h)), params.quality))
            tmp.replace(path)
        pool.append(path.read_bytes())
    return pool


def unique_copy(jpeg: bytes, n: int) -> bytes:
    """The same picture with a JPEG comment segment of its own: other bytes (SHA-256, MD5),
    the same pixels (PDQ, pHash)."""
    note = f"daemon bench post {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + jpeg[2:]


async def list_store(size: int, *, seed: int = STORE_SEED) -> tuple[Path, float]:
    """An SQLite store (the current schema, one bank of ``size`` random PDQ entries), cached
    and shared with the matching benchmark; and the seconds it took to build now (0 when it
    came from the cache)."""
    if store_path(size, seed).exists():
        return store_path(size, seed), 0.0
    started = time.perf_counter()
    # In a thread: the builder makes the schema with a loop of its own.
    path = await asyncio.to_thread(random_store, size, seed)
    return path, time.perf_counter() - started


def copy_store(cached: Path, target: Path) -> None:
    """A private copy of a cached store (the monitor refuses stores others can read)."""
    shutil.copyfile(cached, target)
    target.chmod(0o600)


# --- the daemon as a child process --------------------------------------------------------------


@dataclass
class DaemonLog:
    """What the daemon's JSON log lines said, as they arrived."""

    events: list[str] = field(default_factory=list)
    hits: dict[str, float] = field(default_factory=dict)  # message link -> commit time
    errors: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    crypto: str = "?"  # what Telethon encrypts with (cryptg, libssl, python)

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            if line.strip():
                self.errors.append(line.strip()[:300])
            return
        try:
            event = json.loads(line)
        except ValueError:
            self.errors.append(line.strip()[:300])
            return
        name = event.get("event")
        if name == "hit":
            self.hits.setdefault(event["link"], _epoch(event["timestamp"]))
            return
        self.events.append(str(name))
        if name == "hash_lists_loaded":
            self.loaded.set()
        elif name == "telegram_connected":
            self.crypto = str(event.get("crypto", "?"))
        elif name == "reconcile_pass_done":
            self.ready.set()
        if event.get("level") in ("error", "critical") or "exception" in event:
            self.errors.append(f"{name}: {event.get('error') or event.get('exception', '')}"[:300])


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@dataclass
class RunningDaemon:
    proc: asyncio.subprocess.Process
    log: DaemonLog
    reader: asyncio.Task[None]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check(self) -> None:
        """Raise if the daemon has exited."""
        if self.proc.returncode is not None:
            tail = "; ".join(self.log.errors[-5:])
            raise RuntimeError(f"the daemon exited with {self.proc.returncode}: {tail}")

    async def wait_for(self, event: asyncio.Event, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not event.is_set():
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not get {what} within {seconds:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), 0.5)


@contextlib.asynccontextmanager
async def daemon_process(env: Env) -> AsyncIterator[RunningDaemon]:
    """``monitor run`` in a child process; SIGTERM to its process group at the end."""
    proc = await env.spawn("run", stdout=asyncio.subprocess.DEVNULL)
    log = DaemonLog()

    async def read() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            log.feed(raw.decode("utf-8", "replace"))

    running = RunningDaemon(proc, log, asyncio.create_task(read()))
    try:
        yield running
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        await asyncio.wait_for(running.reader, 10)


async def signed_in(server: TelegramTestServer, tmp: Path, **sections: dict[str, Any]) -> Env:
    """The monitoring account signed in (Telethon's greeting on stdout swallowed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return await make_env(server, tmp, logging={"level": "info", "format": "json"}, **sections)


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak) of a process in MiB (empty if it is gone)."""
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return found


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def rss(pid: int) -> float:
    return proc_status(pid).get("VmRSS", 0.0)


def children_rss(pid: int) -> float:
    return sum(rss(child) for child in children(pid))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far: the daemon's main process, its children, and this process (the
    loopback server and the poster)."""

    daemon: float
    children: float
    server: float

    @classmethod
    def now(cls, pid: int) -> Cpu:
        own = os.times()
        return cls(
            cpu_seconds(pid),
            sum(cpu_seconds(child) for child in children(pid)),
            own.user + own.system,
        )

    def per_photo(self, before: Cpu, photos: int) -> str:
        def ms(a: float, b: float) -> str:
            return f"{1000 * (a - b) / max(1, photos):.1f} ms"

        return (
            f"CPU per photo: daemon {ms(self.daemon, before.daemon)}, its children "
            f"{ms(self.children, before.children)}, server and poster "
            f"{ms(self.server, before.server)}"
        )


# --- the world: channels, posts, and what the store recorded ----------------------------------


@dataclass
class Feed:
    """Channels to post in, the photo pool, and every post's time."""

    env: Env
    channels: list[ChannelRecord]
    pool: list[bytes]
    listed: int  # pool[:listed] are in the list
    posted: dict[tuple[int, int], float] = field(default_factory=dict)  # (chat, msg) -> time
    links: dict[str, tuple[int, int]] = field(default_factory=dict)  # hit links -> (chat, msg)
    count: int = 0

    def post(self) -> tuple[int, int]:
        """One photo in the next channel; every other one is of a listed photo."""
        n = self.count
        self.count += 1
        channel = self.channels[n % len(self.channels)]
        listed = n % 2 == 0
        unlisted = len(self.pool) - self.listed
        base = (n // 2) % self.listed if listed else self.listed + (n // 2) % unlisted
        data = unique_copy(self.pool[base], n)
        at = time.time()
        msg_id = self.env.world.post_photo(channel, data)
        key = (channel.marked_id, msg_id)
        self.posted[key] = at
        if listed:
            self.links[f"https://t.me/{channel.username}/{msg_id}"] = key
        return key

    def forget(self, keep: int) -> None:
        """Let the server drop the bytes of all but the newest ``keep`` posts (a long run
        would otherwise keep every JPEG in this process)."""
        world = self.env.world
        for channel in self.channels:
            ids = sorted(channel.messages)
            for msg_id in ids[: max(0, len(ids) - keep // len(self.channels))]:
                media = channel.messages[msg_id].media
                if media is not None and media.data:
                    world.media.pop((media.kind, media.id), None)
                    media.data = b""


class Recorded:
    """Reads the daemon's store (SQLite in WAL mode: readable while the daemon writes)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self._conn.close()

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM sightings").fetchone()[0])

    def seen(self) -> dict[tuple[int, int], tuple[float, str | None]]:
        """(chat id, message id) -> (time recorded, skip reason) of every sighting."""
        rows = self._conn.execute("SELECT chat_id, message_id, seen_at, skip_reason FROM sightings")
        return {(c, m): (_db_time(at), reason) for c, m, at, reason in rows}


def _db_time(value: str) -> float:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# --- end to end ---------------------------------------------------------------------------------


@dataclass
class Round:
    photos: int
    seconds: float  # first post to last commit
    latencies: list[float]  # post to committed hit, seconds
    skipped: int
    cpu: str

    @property
    def rate(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0


async def offer(
    feed: Feed,
    daemon: RunningDaemon,
    recorded: Recorded,
    *,
    photos: int,
    rate: float,
    every: float,
    within: float,
) -> Round:
    """Post ``photos`` in bursts every ``every`` s at ``rate``; wait until all are recorded."""
    before = recorded.count()
    cpu = Cpu.now(daemon.pid)
    keys: list[tuple[int, int]] = []
    per_burst = max(1, round(rate * every))
    loop = asyncio.get_running_loop()
    start = loop.time()
    burst = 0
    while len(keys) < photos:
        for _ in range(min(per_burst, photos - len(keys))):
            keys.append(feed.post())
        burst += 1
        delay = start + burst * every - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        daemon.check()
    deadline = time.monotonic() + within
    while recorded.count() - before < photos:
        daemon.check()
        if time.monotonic() > deadline:
            done = recorded.count() - before
            raise RuntimeError(f"only {done} of {photos} photos recorded in {within:.0f} s")
        await asyncio.sleep(0.05)
    mine = set(keys)
    wanted = {link for link, key in feed.links.items() if key in mine}
    while not wanted <= daemon.log.hits.keys():
        daemon.check()
        if time.monotonic() > deadline:
            missing = len(wanted - daemon.log.hits.keys())
            raise RuntimeError(f"{missing} expected hits not logged in {within:.0f} s")
        await asyncio.sleep(0.05)
    seen = recorded.seen()
    first = min(feed.posted[k] for k in keys)
    last = max([*(seen[k][0] for k in keys), *(daemon.log.hits[link] for link in wanted)])
    latencies = [daemon.log.hits[link] - feed.posted[feed.links[link]] for link in wanted]
    skipped = sum(1 for k in keys if seen[k][1] is not None)
    cost = Cpu.now(daemon.pid).per_photo(cpu, len(keys))
    return Round(len(keys), last - first, latencies, skipped, cost)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def spread(values: Sequence[float], unit: str = "") -> str:
    def fmt(v: float) -> str:
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"

    return f"min {fmt(min(values))}{unit}, max {fmt(max(values))}{unit} over {len(values)} runs"


async def _end_to_end(
    feed: Feed, daemon: RunningDaemon, recorded: Recorded, params: Params, out: Out
) -> list[Figure]:
    where = f"{params.channels} channels, {params.list_size:,}-entry list"
    latency_rounds = []
    for n in range(params.latency_rounds):
        r = await offer(
            feed,
            daemon,
            recorded,
            photos=round(TARGET_RATE * params.latency_seconds),
            rate=TARGET_RATE,
            every=params.burst_every,
            within=300,
        )
        latency_rounds.append(r)
        out(
            f"latency round {n + 1}: {r.photos} photos at {TARGET_RATE:g}/s in bursts, "
            f"{len(r.latencies)} hits: p50 {percentile(r.latencies, 50):.3f} s, "
            f"p95 {percentile(r.latencies, 95):.3f} s, p99 {percentile(r.latencies, 99):.3f} s, "
            f"max {max(r.latencies):.3f} s; {r.rate:.1f} photos/s; {r.skipped} skipped; {r.cpu}"
        )
    throughput_rounds = []
    for n in range(params.throughput_rounds):
        r = await offer(
            feed,
            daemon,
            recorded,
            photos=params.throughput_photos,
            rate=2 * TARGET_RATE,
            every=params.burst_every,
            within=600,
        )
        throughput_rounds.append(r)
        out(
            f"throughput round {n + 1}: {r.photos} photos offered at {2 * TARGET_RATE:g}/s: "
            f"{r.rate:.1f} photos/s post to commit ({r.seconds:.1f} s); {r.skipped} skipped; "
            f"{r.cpu}"
        )
    rates = [r.rate for r in throughput_rounds]
    figures = [
        Figure(
            E2E,
            f"sustained photos/s, post to committed sighting ({where})",
            statistics.median(rates),
            "photos/s",
            target=f">= {TARGET_RATE:g}",
            met=statistics.median(rates) >= TARGET_RATE,
            spread=spread(rates),
        )
    ]
    for q in (50, 95, 99):
        values = [percentile(r.latencies, q) for r in latency_rounds]
        value = statistics.median(values)
        target, met = (f"< {TARGET_P95:g} s", value < TARGET_P95) if q == 95 else (None, None)
        figures.append(
            Figure(
                E2E,
                f"post to committed hit, p{q}, {TARGET_RATE:g} photos/s in bursts",
                value,
                "s",
                target=target,
                met=met,
                spread=spread(values, " s"),
            )
        )
    return figures


# --- memory -------------------------------------------------------------------------------------


async def stream(
    feed: Feed, daemon: RunningDaemon, recorded: Recorded, params: Params, out: Out
) -> tuple[list[tuple[int, float, float]], float]:
    """Post ``params.stream`` photos as fast as they are recorded (at most ``stream_window``
    outstanding), sampling the daemon's memory. Returns the samples (messages recorded, RSS
    MiB, children's RSS MiB) and the seconds it took."""
    total = params.stream
    base = recorded.count()
    every = max(1, total // params.samples)
    samples: list[tuple[int, float, float]] = []
    posted = forgotten = 0
    started = time.monotonic()
    next_sample = 0
    out(f"  {'messages':>9} {'daemon RSS MiB':>15} {'children MiB':>13} {'photos/s':>9}")
    while True:
        done = recorded.count() - base
        if done >= next_sample:
            samples.append((done, rss(daemon.pid), children_rss(daemon.pid)))
            elapsed = time.monotonic() - started
            out(
                f"  {done:>9,} {samples[-1][1]:>15.1f} {samples[-1][2]:>13.1f} "
                f"{done / elapsed if elapsed > 0 else 0:>9.1f}"
            )
            next_sample = min(total, done + every) if done < total else total + 1
        if done >= total:
            break
        while posted < total and posted - done < params.stream_window:
            feed.post()
            posted += 1
        if posted - forgotten >= 1000:
            feed.forget(keep=params.stream_window * 4)
            forgotten = posted
        daemon.check()
        await asyncio.sleep(0.02)
    return samples, time.monotonic() - started


async def _memory(
    feed: Feed, daemon: RunningDaemon, recorded: Recorded, params: Params, out: Out
) -> list[Figure]:
    out(
        f"memory: {params.stream:,} photo messages streamed through the daemon "
        f"(media-id cache {params.cache_size:,} entries)"
    )
    samples, seconds = await stream(feed, daemon, recorded, params, out)
    warm_at = max(params.stream // 10, params.cache_size)
    warm = next((s for s in samples if s[0] >= warm_at), samples[0])
    end = samples[-1]
    growth = end[1] - warm[1]
    limit = min(GROWTH_LIMIT_MIB, GROWTH_LIMIT_SHARE * warm[1])
    return [
        Figure(
            MEMORY,
            f"daemon RSS growth over {params.stream:,} messages, from {warm[0]:,} "
            f"({warm[1]:.0f} MiB) to the end ({end[1]:.0f} MiB)",
            growth,
            "MiB",
            target=f"< {limit:.0f} MiB (flat)",
            met=growth < limit,
            spread=f"RSS min {min(s[1] for s in samples):.0f}, max "
            f"{max(s[1] for s in samples):.0f} MiB over {len(samples)} samples",
        ),
        Figure(MEMORY, "photos/s during the memory run", params.stream / seconds, "photos/s"),
    ]


def cache_entry_bytes(pool: list[bytes], count: int = 200) -> float:
    """Bytes one entry of the daemon's media-id cache takes, on the signals of real photos."""
    hashing = HashingSettings()
    signals = [
        compute_media_signals(unique_copy(pool[i % len(pool)], i), hashing) for i in range(count)
    ]
    cache = SignalsCache(count)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n, s in enumerate(signals):
            cache.put(n, s)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count


async def _big_list(params: Params, out: Out) -> list[Figure]:
    cached, built = await list_store(params.big_list)
    if built:
        out(f"built the {params.big_list:,}-entry list store in {built:.0f} s (now cached)")
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp_name:
        tmp = Path(tmp_name)
        copy_store(cached, tmp / "monitor.sqlite3")
        async with TelegramTestServer() as server:
            env = await signed_in(server, tmp)
            started = time.monotonic()
            async with daemon_process(env) as daemon:
                await daemon.wait_for(daemon.log.loaded, params.startup_timeout, "its list")
                loaded = time.monotonic() - started
                await daemon.wait_for(daemon.log.ready, 120, "ready")
                steady = []
                for _ in range(5):
                    await asyncio.sleep(0.5)
                    steady.append(rss(daemon.pid))
                peak = proc_status(daemon.pid).get("VmHWM", 0.0)
                out(
                    f"big list: {params.big_list:,} entries loaded in {loaded:.1f} s; daemon RSS "
                    f"{max(steady):.0f} MiB once loaded, {peak:.0f} MiB at the peak of loading; "
                    f"children {children_rss(daemon.pid):.0f} MiB"
                )
    size = f"{params.big_list:,}-entry list"
    return [
        Figure(
            MEMORY,
            f"daemon RSS with a {size} loaded",
            max(steady),
            "MiB",
            target=f"< {BIG_LIST_LIMIT_MIB:,.0f} MiB",
            met=max(steady) < BIG_LIST_LIMIT_MIB,
            spread=f"min {min(steady):.0f}, max {max(steady):.0f} MiB over {len(steady)} samples",
        ),
        Figure(MEMORY, f"daemon peak RSS while loading a {size}", peak, "MiB"),
        Figure(MEMORY, f"daemon start to list loaded, {size}", loaded, "s"),
    ]


# --- the run ------------------------------------------------------------------------------------


async def bench(params: Params, groups: set[str], out: Out) -> list[Figure]:
    if hasattr(os, "sched_setaffinity"):  # the daemon gets the whole machine, as in production
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    figures: list[Figure] = []
    if groups & {E2E, MEMORY}:
        figures += await _with_daemon(params, groups, out)
    if MEMORY in groups:
        figures += await _big_list(params, out)
    return figures


async def _with_daemon(params: Params, groups: set[str], out: Out) -> list[Figure]:
    cached, built = await list_store(params.list_size)
    if built:
        out(f"built the {params.list_size:,}-entry list store in {built:.0f} s (now cached)")
    pool = photo_pool(params)
    listed = len(pool) // 2
    hashing = HashingSettings()
    entries = []
    for n, data in enumerate(pool[:listed]):
        pdq = compute_signals(data, hashing).pdq
        assert pdq is not None
        entries.append(ListEntry(HashType.PDQ, pdq, case_id=f"bench-{n}"))
    defaults = TelegramSettings()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp_name:
        tmp = Path(tmp_name)
        copy_store(cached, tmp / "monitor.sqlite3")
        async with TelegramTestServer() as server:
            env = await signed_in(
                server,
                tmp,
                # The production defaults where the test harness sets its own.
                telegram={
                    "concurrency": defaults.concurrency,
                    "drain_timeout": defaults.drain_timeout,
                    "reconcile_interval": defaults.reconcile_interval,
                },
                **{"telegram.media": {"cache_size": params.cache_size}},
            )
            await env.import_entries(entries)
            channels = [
                server.world.create_channel(f"bench_feed_{i}", f"Bench {i}", members=[env.user])
                for i in range(params.channels)
            ]
            for channel in channels:
                server.world.post_message(channel, "hello")  # the channel's pts, for Telethon
            await env.watch(*(f"@{c.username}" for c in channels))
            feed = Feed(env, channels, pool, listed)
            recorded = Recorded(env.database_path)
            started = time.monotonic()
            try:
                async with daemon_process(env) as daemon:
                    await daemon.wait_for(daemon.log.loaded, params.startup_timeout, "its list")
                    loaded = time.monotonic() - started
                    await daemon.wait_for(daemon.log.ready, 120, "ready")
                    ready = time.monotonic() - started
                    out(
                        f"daemon pid {daemon.pid}: {params.list_size + listed:,} list entries "
                        f"loaded in {loaded:.1f} s, {params.channels} channels watched after "
                        f"{ready:.1f} s; RSS {rss(daemon.pid):.0f} MiB; Telethon's AES: "
                        f"{daemon.log.crypto}"
                    )
                    figures.append(
                        Figure(E2E, f"daemon start, {params.list_size:,}-entry list", ready, "s")
                    )
                    # Warm-up: the hashing workers' first images, the first downloads.
                    await offer(
                        feed,
                        daemon,
                        recorded,
                        photos=4 * params.channels,
                        rate=TARGET_RATE,
                        every=params.burst_every,
                        within=120,
                    )
                    if E2E in groups:
                        figures += await _end_to_end(feed, daemon, recorded, params, out)
                    if MEMORY in groups:
                        figures += await _memory(feed, daemon, recorded, params, out)
                    if daemon.log.errors:
                        out(
                            f"daemon errors: {len(daemon.log.errors)}; the last: "
                            f"{daemon.log.errors[-1]}"
                        )
            finally:
                recorded.close()
    if MEMORY in groups:
        per_entry = cache_entry_bytes(pool)
        full = TelegramSettings().media.cache_size
        figures.append(
            Figure(
                MEMORY,
                f"media-id cache, per entry (a full default cache of {full:,}: "
                f"{per_entry * full / 2**20:.0f} MiB)",
                per_entry,
                "bytes",
            )
        )
    return figures


def figures(quick: bool, *, groups: Sequence[str] = GROUPS) -> list[Figure]:
    params = QUICK if quick else FULL
    return asyncio.run(bench(params, set(groups), lambda line: print(line, flush=True)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny inputs (seconds)")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS))
    parser.add_argument("--list-size", type=int)
    parser.add_argument("--channels", type=int)
    parser.add_argument("--stream", type=int)
    parser.add_argument("--big-list", type=int)
    parser.add_argument("--photo-size", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    for name in ("list_size", "channels", "stream", "big_list"):
        value = getattr(args, name)
        if value is not None:
            params = replace(params, **{name: value})
    if args.photo_size:
        width, height = (int(v) for v in args.photo_size.lower().split("x"))
        params = replace(params, photo_size=(width, height))
    print(machine())
    print(versions())
    print_table(asyncio.run(bench(params, set(args.only), lambda line: print(line, flush=True))))


if __name__ == "__main__":
    main()
