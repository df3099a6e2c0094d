"""The /metrics exposition: families, labels, every counter key kept, and the text format."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from monitor.domain import HashType
from monitor.health import Readiness
from monitor.matching import MatcherStats
from monitor.metrics import Snapshot, build_registry, counter_metrics, render
from monitor.telegram.lag import ChannelLag

READY = Readiness({"index_loaded": True, "telegram_connected": True, "receiving": True})


def _snapshot(counters: dict[str, int] | None = None, **kw: object) -> Snapshot:
    base: dict[str, object] = {
        "counters": counters or {},
        "readiness": READY,
        "queue_depths": {"live": 2, "history": 7},
        "queue_capacity": 256,
        "channels_watched": 3,
    }
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def _scrape(snapshot: Snapshot, *, process: bool = False) -> tuple[str, dict[str, float]]:
    """The text, and every sample as ``name{k="v",...}`` -> value (labels sorted)."""
    text = render(build_registry(lambda: snapshot, process=process)).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return text, samples


def test_daemon_counters_become_labelled_families() -> None:
    counters = {
        "messages": 5,
        "messages_live": 3,
        "messages_reconcile": 2,
        "updates_new": 4,
        "updates_ignored": 1,
        "media_hashed": 3,
        "media_hashed_photo": 2,
        "media_hashed_video": 1,
        "skipped_too_large": 2,
        "skipped_kind_not_allowed": 1,
        "unhashable_lottie_unsupported": 1,
        "hits": 2,
        "hits_near-exact": 1,
        "hits_exact": 1,
        "sightings_new": 4,
        "sightings_known": 1,
        "flood_waits": 2,
        "flood_wait_seconds": 45,
        "message_errors": 1,
        "reconcile_pass_errors": 2,
        "reconnects": 1,
        "bytes_downloaded": 1000,
    }
    _, samples = _scrape(_snapshot(counters))
    assert samples['monitor_messages_total{origin="live"}'] == 3
    assert samples['monitor_messages_total{origin="reconcile"}'] == 2
    assert samples['monitor_updates_total{kind="new"}'] == 4
    assert samples['monitor_updates_total{kind="ignored"}'] == 1
    assert samples['monitor_media_hashed_total{kind="photo"}'] == 2
    assert samples['monitor_media_hashed_total{kind="video"}'] == 1
    assert samples['monitor_media_skipped_total{reason="too_large"}'] == 2
    assert samples['monitor_media_skipped_total{reason="kind_not_allowed"}'] == 1
    assert samples['monitor_media_unhashable_total{reason="lottie_unsupported"}'] == 1
    assert samples['monitor_hits_total{tier="near-exact"}'] == 1
    assert samples['monitor_hits_total{tier="exact"}'] == 1
    assert samples['monitor_sightings_total{result="new"}'] == 4
    assert samples["monitor_flood_waits_total{}"] == 2
    assert samples["monitor_flood_wait_seconds_total{}"] == 45
    assert samples['monitor_errors_total{kind="message"}'] == 1
    assert samples['monitor_errors_total{kind="reconcile_pass"}'] == 2
    assert samples["monitor_reconnects_total{}"] == 1
    assert samples["monitor_downloaded_bytes_total{}"] == 1000
    # The totals are the sums of their labelled keys, not series of their own.
    assert not any(
        k.startswith(("monitor_messages_total{}", "monitor_hits_total{}")) for k in samples
    )
    assert not any("unknown" in k for k in samples)
    assert not any(k.startswith("monitor_events_total") for k in samples)


def test_unknown_counter_keys_are_exported_as_events() -> None:
    _, samples = _scrape(_snapshot({"leases_lost": 2, "something_new": 1}))
    assert samples['monitor_events_total{event="leases_lost"}'] == 2
    assert samples['monitor_events_total{event="something_new"}'] == 1


def test_a_total_larger_than_its_labels_shows_the_rest_as_unknown() -> None:
    _, samples = _scrape(_snapshot({"hits": 3, "hits_match": 1, "messages": 2}))
    assert samples['monitor_hits_total{tier="match"}'] == 1
    assert samples['monitor_hits_total{tier="unknown"}'] == 2
    assert samples['monitor_messages_total{origin="unknown"}'] == 2


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=30).filter(
            lambda k: k not in ("messages", "hits", "media_hashed")
        ),
        st.integers(min_value=0, max_value=10**12),
        max_size=25,
    )
)
def test_every_counter_key_is_exported_once(counters: dict[str, int]) -> None:
    """Whatever the keys (quotes, newlines, unicode), each comes out once, with its value."""
    families = counter_metrics(Counter(counters))
    text = render(build_registry(lambda: _snapshot(counters), process=False)).decode()
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    total = sum(s.value for f in families for s in f.samples)
    assert total == sum(counters.values())
    exported = sum(s.value for f in parsed.values() if f.type == "counter" for s in f.samples)
    assert exported == sum(counters.values())
    samples = [s for f in parsed.values() if f.type == "counter" for s in f.samples]
    assert len(samples) == len(counters)  # one sample per key
    events = parsed.get("monitor_events")
    for sample in events.samples if events is not None else []:
        assert counters[sample.labels["event"]] == sample.value  # the key comes back intact


def test_state_gauges_lag_index_and_readiness() -> None:
    stats = MatcherStats(
        entries=12,
        by_type={HashType.PDQ: 10, HashType.MD5: 2},
        by_bank={},
        enabled_banks=("reported",),
        rejected=0,
        memory_bytes=4096,
    )
    lags = [
        (ChannelLag(-1001, cursor=90, newest=100, messages=10, seconds=61.5), "feed"),
        (ChannelLag(-1002, cursor=7, newest=7, messages=0, seconds=0.0), ""),
    ]
    not_ready = Readiness({"index_loaded": True, "telegram_connected": False, "receiving": True})
    _, samples = _scrape(_snapshot(lags=lags, index=stats, readiness=not_ready))
    assert samples["monitor_up{}"] == 1
    assert samples["monitor_ready{}"] == 0
    assert samples['monitor_readiness_check{check="telegram_connected"}'] == 0
    assert samples['monitor_readiness_check{check="receiving"}'] == 1
    assert samples['monitor_queue_depth{queue="live"}'] == 2
    assert samples['monitor_queue_depth{queue="history"}'] == 7
    assert samples["monitor_queue_capacity{}"] == 256
    assert samples["monitor_channels_watched{}"] == 3
    assert samples['monitor_reconciler_lag_messages{channel_id="-1001",username="feed"}'] == 10
    assert samples['monitor_reconciler_lag_seconds{channel_id="-1001",username="feed"}'] == 61.5
    assert samples['monitor_reconciler_lag_messages{channel_id="-1002",username=""}'] == 0
    assert samples['monitor_channel_cursor{channel_id="-1001",username="feed"}'] == 90
    assert samples['monitor_index_entries{hash_type="pdq"}'] == 10
    assert samples['monitor_index_entries{hash_type="md5"}'] == 2
    assert samples["monitor_index_banks{}"] == 1
    assert samples["monitor_index_memory_bytes{}"] == 4096
    assert any(k.startswith("monitor_build_info{version=") for k in samples)


def test_the_text_format_has_help_and_type_for_every_family_all_prefixed() -> None:
    text, _ = _scrape(_snapshot({"messages_live": 1, "odd": 1}), process=True)
    helps = re.findall(r"^# HELP (\S+) ", text, re.M)
    types = re.findall(r"^# TYPE (\S+) (counter|gauge)$", text, re.M)
    assert helps
    assert helps == [name for name, _ in types]
    assert all(name.startswith("monitor_") for name in helps)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            assert name is not None
            assert name.group(0).startswith("monitor_"), line
    # Counters carry the _total suffix (in the TYPE line too: format 0.0.4).
    assert re.search(r"^# TYPE monitor_messages_total counter$", text, re.M)
    assert re.search(r"^monitor_process_resident_memory_bytes ", text, re.M)


def test_readiness_names_the_failing_checks() -> None:
    readiness = Readiness({"index_loaded": True, "telegram_connected": False, "receiving": False})
    assert not readiness.ready
    assert readiness.as_json() == {
        "status": "not ready",
        "checks": {"index_loaded": True, "telegram_connected": False, "receiving": False},
        "failing": ["telegram_connected", "receiving"],
    }
    assert READY.ready
    assert READY.as_json()["failing"] == []
