"""The daemon's state in the Prometheus text format (``GET /metrics``), read at scrape time.

Nothing is counted twice: the daemon already counts what happens in one ``Counter``
(``Daemon.counters``: the processor, the reconciler, flood control and the daemon feed it), and a
scrape turns a snapshot of it, with the queue, the channels' lag, the hash index and readiness,
into metric families. Every counter key is exported: the known ones as the families below, with
their labels, and any other under ``monitor_events_total{event="<key>"}`` so that nothing counted
goes missing from the metrics.

Counter keys and the families they feed::

    messages_<origin>        monitor_messages_total{origin}        live, edit, reconcile, backfill
    updates_<kind>           monitor_updates_total{kind}           new, edited, ignored
    media_hashed_<kind>      monitor_media_hashed_total{kind}      photo, image, sticker, ...
    skipped_<reason>         monitor_media_skipped_total{reason}
    unhashable_<reason>      monitor_media_unhashable_total{reason}
    hits_<tier>              monitor_hits_total{tier}              exact, near-exact, match
    sightings_<result>       monitor_sightings_total{result}       new, known
    <kind>_errors            monitor_errors_total{kind}
    flood_wait_seconds       monitor_flood_wait_seconds_total
    ...                      (see ``_PLAIN``)

``messages``, ``hits`` and ``media_hashed`` are totals of their labelled keys and are not exported
themselves; were one ever larger than its labelled keys together, the difference is exported with
the label value ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.health import Readiness
from monitor.matching import MatcherStats
from monitor.telegram.lag import ChannelLag

NAMESPACE = "monitor"
# Prometheus text exposition format 0.0.4: what every Prometheus version scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a scrape reports, taken from the daemon in one go (see ``monitor.observability``)."""

    counters: Mapping[str, int]
    readiness: Readiness
    queue_depths: Mapping[str, int]  # queue name -> items waiting
    queue_capacity: int  # items each queue holds before intake waits
    channels_watched: int
    lags: Sequence[tuple[ChannelLag, str]] = ()  # with the channel's public username, or ""
    index: MatcherStats | None = None


@dataclass(frozen=True, slots=True)
class _Family:
    name: str  # without the namespace and the _total suffix
    help: str
    label: str = ""  # the one label, if any


MESSAGES = _Family("messages", "Messages with media taken up by a worker, by origin.", "origin")
UPDATES = _Family(
    "updates", "Telegram updates of new or edited messages, by kind (ignored: not watched).", "kind"
)
MEDIA_HASHED = _Family("media_hashed", "Media items downloaded and hashed, by kind.", "kind")
MEDIA_SKIPPED = _Family(
    "media_skipped", "Media items not hashed, by reason (policy, size, errors).", "reason"
)
MEDIA_UNHASHABLE = _Family(
    "media_unhashable",
    "Media items downloaded but without a perceptual hash, by reason (exact hashes kept).",
    "reason",
)
HITS = _Family("hits", "New hits recorded, by tier.", "tier")
SIGHTINGS = _Family("sightings", "Media sightings recorded, new or already known.", "result")
ERRORS = _Family("errors", "Failures that were logged and survived, by kind.", "kind")
EVENTS = _Family("events", "Other events the daemon counted, by name.", "event")

_PREFIXED: tuple[tuple[str, _Family], ...] = (
    ("messages_", MESSAGES),
    ("updates_", UPDATES),
    ("media_hashed_", MEDIA_HASHED),
    ("skipped_", MEDIA_SKIPPED),
    ("unhashable_", MEDIA_UNHASHABLE),
    ("hits_", HITS),
    ("sightings_", SIGHTINGS),
)
# Totals of a labelled family, kept by the daemon for its own summaries.
_TOTALS: dict[str, _Family] = {"messages": MESSAGES, "hits": HITS, "media_hashed": MEDIA_HASHED}
_PLAIN: dict[str, _Family] = {
    key: _Family(name, text)
    for key, name, text in (
        ("media_recorded", "media_recorded", "Media items matched and recorded."),
        ("media_downloaded", "media_downloaded", "Media items downloaded from Telegram."),
        (
            "media_cached",
            "media_cache_hits",
            "Media items whose hashes were known already (forwards, re-posts, edits).",
        ),
        ("bytes_downloaded", "downloaded_bytes", "Bytes of media downloaded from Telegram."),
        ("videos_hashed", "videos_hashed", "Videos and animations hashed frame by frame."),
        ("flood_waits", "flood_waits", "Flood waits Telegram imposed (FLOOD_WAIT errors)."),
        ("flood_wait_seconds", "flood_wait_seconds", "Seconds of flood wait Telegram imposed."),
        ("disconnects", "disconnects", "Connections lost beyond Telethon's own retries."),
        ("reconnects", "reconnects", "Reconnections to Telegram (by Telethon or the daemon)."),
        ("reconcile_passes", "reconcile_passes", "Reconciler passes over every channel."),
    )
}
_ERRORS_SUFFIX = "_errors"


def _counter(family: _Family) -> CounterMetricFamily:
    name = f"{NAMESPACE}_{family.name}"
    labels = [family.label] if family.label else None
    return CounterMetricFamily(name, family.help, labels=labels)


def _route(key: str) -> tuple[_Family, str] | None:
    """The family and label value a counter key feeds; None for the totals."""
    if key in _TOTALS:
        return None
    if key in _PLAIN:
        return _PLAIN[key], ""
    if key.endswith(_ERRORS_SUFFIX) and len(key) > len(_ERRORS_SUFFIX):
        return ERRORS, key.removesuffix(_ERRORS_SUFFIX)
    for prefix, family in _PREFIXED:
        if key.startswith(prefix) and len(key) > len(prefix):
            return family, key.removeprefix(prefix)
    return EVENTS, key


def counter_metrics(counters: Mapping[str, int]) -> list[CounterMetricFamily]:
    """Every counter key as a sample of its family (families sorted by name)."""
    values: dict[_Family, dict[str, float]] = {}
    for key, value in counters.items():
        routed = _route(key)
        if routed is not None:
            family, label = routed
            values.setdefault(family, {})[label] = float(value)
    for key, family in _TOTALS.items():
        total = float(counters.get(key, 0))
        labelled = values.setdefault(family, {})
        rest = total - sum(labelled.values())
        if rest > 0:
            labelled["unknown"] = labelled.get("unknown", 0.0) + rest
    for family in (*_TOTALS.values(), ERRORS):
        values.setdefault(family, {})  # always present: dashboards need not guess
    out = []
    for family, samples in sorted(values.items(), key=lambda item: item[0].name):
        metric = _counter(family)
        for label, sample in sorted(samples.items()):
            metric.add_metric([label] if family.label else [], sample)
        out.append(metric)
    return out


def _gauge(name: str, help_text: str, value: float | None = None, **labels: str) -> Metric:
    labelnames = list(labels)
    metric = GaugeMetricFamily(f"{NAMESPACE}_{name}", help_text, labels=labelnames or None)
    if value is not None:
        metric.add_metric(list(labels.values()), value)
    return metric


def state_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    """Gauges of the daemon's state now."""
    yield InfoMetricFamily(
        f"{NAMESPACE}_build", "The monitor's version.", value={"version": __version__}
    )
    yield _gauge("up", "1 while the daemon serves its endpoints.", 1)
    yield _gauge(
        "ready",
        "1 when the index is loaded, Telegram connected and updates received.",
        1 if snapshot.readiness.ready else 0,
    )
    checks = GaugeMetricFamily(
        f"{NAMESPACE}_readiness_check",
        "Each readiness check: 1 passing, 0 failing.",
        labels=["check"],
    )
    for name, ok in snapshot.readiness.checks.items():
        checks.add_metric([name], 1 if ok else 0)
    yield checks
    depth = GaugeMetricFamily(
        f"{NAMESPACE}_queue_depth", "Messages waiting for a worker, by queue.", labels=["queue"]
    )
    for queue, size in sorted(snapshot.queue_depths.items()):
        depth.add_metric([queue], size)
    yield depth
    yield _gauge(
        "queue_capacity",
        "Messages each queue holds before intake waits (queue_size).",
        snapshot.queue_capacity,
    )
    yield _gauge(
        "channels_watched", "Allow-listed channels being watched.", snapshot.channels_watched
    )
    yield from _lag_metrics(snapshot.lags)
    yield from _index_metrics(snapshot.index)


def _lag_metrics(lags: Iterable[tuple[ChannelLag, str]]) -> Iterator[Metric]:
    labels = ["channel_id", "username"]
    behind = GaugeMetricFamily(
        f"{NAMESPACE}_reconciler_lag_messages",
        "Message ids between a channel's committed cursor and its newest message known.",
        labels=labels,
    )
    seconds = GaugeMetricFamily(
        f"{NAMESPACE}_reconciler_lag_seconds",
        "Seconds since the oldest message above a channel's cursor was posted (0: caught up).",
        labels=labels,
    )
    cursor = GaugeMetricFamily(
        f"{NAMESPACE}_channel_cursor",
        "A channel's committed cursor: every message up to this id is processed.",
        labels=labels,
    )
    for lag, username in lags:
        values = [str(lag.chat_id), username]
        behind.add_metric(values, lag.messages)
        seconds.add_metric(values, round(lag.seconds, 3))
        cursor.add_metric(values, lag.cursor)
    yield behind
    yield seconds
    yield cursor


def _index_metrics(stats: MatcherStats | None) -> Iterator[Metric]:
    entries = GaugeMetricFamily(
        f"{NAMESPACE}_index_entries",
        "Hash-list entries loaded for matching, by hash type.",
        labels=["hash_type"],
    )
    if stats is not None:
        for hash_type, count in sorted(stats.by_type.items(), key=lambda item: item[0].value):
            entries.add_metric([hash_type.value], count)
    yield entries
    if stats is not None:
        yield _gauge(
            "index_banks", "Hash lists (banks) enabled for matching.", len(stats.enabled_banks)
        )
        yield _gauge("index_memory_bytes", "Memory the match index takes.", stats.memory_bytes)


class MonitorCollector(Collector):
    """Reads a snapshot of the daemon at each scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snapshot = self._snapshot()
        yield from state_metrics(snapshot)
        yield from counter_metrics(snapshot.counters)


def build_registry(snapshot: Callable[[], Snapshot], *, process: bool = True) -> CollectorRegistry:
    """A registry of the monitor's metrics (and, with ``process``, the process's own: resident
    memory, CPU seconds, open files, from /proc where there is one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(snapshot))
    if process:
        ProcessCollector(namespace=NAMESPACE, registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the text format (``CONTENT_TYPE``)."""
    return generate_latest(registry)
