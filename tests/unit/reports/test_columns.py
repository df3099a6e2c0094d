from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import InputError, MonitorError
from monitor.reports.columns import (
    CHANNEL_COLUMNS,
    COLUMNS,
    HIT_COLUMNS,
    ChannelGroups,
    flatten,
    local_iso,
    utc_iso,
    zone,
)
from tests.unit.reports.samples import ALPHA, HOSTILE, row, sample_rows

SEOUL = ZoneInfo("Asia/Seoul")


def test_flatten_gives_every_column_in_order() -> None:
    for r in sample_rows():
        assert tuple(flatten(r, SEOUL)) == COLUMNS
    assert set(HIT_COLUMNS) | set(CHANNEL_COLUMNS) == set(COLUMNS)


def test_times_are_iso_utc_with_z_and_local_with_offset() -> None:
    flat = flatten(sample_rows()[0], SEOUL)
    assert flat["posted_at_utc"] == "2024-08-26T03:01:00Z"
    assert flat["posted_at_local"] == "2024-08-26T12:01:00+09:00"
    assert flat["removed_at_local"] == "2024-08-26T18:30:00+09:00"
    assert flat["hours_to_removal"] == 5.5


def test_local_time_follows_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert local_iso(datetime(2024, 1, 15, 12, tzinfo=UTC), berlin) == "2024-01-15T13:00:00+01:00"
    assert local_iso(datetime(2024, 7, 15, 12, tzinfo=UTC), berlin) == "2024-07-15T14:00:00+02:00"


def test_naive_times_are_utc_and_other_offsets_are_converted() -> None:
    assert utc_iso(datetime(2024, 8, 26, 3, 0)) == "2024-08-26T03:00:00Z"
    assert utc_iso(datetime(2024, 8, 26, 12, 0, tzinfo=SEOUL)) == "2024-08-26T03:00:00Z"
    assert local_iso(datetime(2024, 8, 26, 3, 0), SEOUL) == "2024-08-26T12:00:00+09:00"
    assert utc_iso(None) is None


def test_unreported_and_file_rows_have_empty_fields_not_errors() -> None:
    unreported, file_row = sample_rows()[2], sample_rows()[5]
    assert flatten(unreported, SEOUL)["removal_status"] is None
    assert flatten(unreported, SEOUL)["hours_to_removal"] is None
    flat = flatten(file_row, SEOUL)
    assert flat["chat_id"] is None
    assert flat["posted_at_utc"] is None
    assert flat["path"] == "/evidence/\t-x.jpg"
    assert flat["seen_at_local"] == "2024-08-26T12:06:10+09:00"


def test_unknown_zone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Mars/Olympus"):
        zone("Mars/Olympus")


def test_groups_start_at_each_channel_change() -> None:
    groups = ChannelGroups()
    starts = [groups.starts_group(r) for r in sample_rows()]
    assert starts == [True, False, False, True, False, True]


def test_a_channel_split_in_two_is_refused() -> None:
    groups = ChannelGroups()
    groups.starts_group(row(1, chat_id=ALPHA))
    groups.starts_group(row(2, chat_id=HOSTILE))
    with pytest.raises(MonitorError, match="not grouped by channel"):
        groups.starts_group(row(3, chat_id=ALPHA))


def test_rows_without_a_channel_after_channels_are_fine_but_not_twice() -> None:
    groups = ChannelGroups()
    assert groups.starts_group(row(1, chat_id=None))
    assert not groups.starts_group(row(2, chat_id=None))
    assert groups.starts_group(row(3, chat_id=ALPHA))
    with pytest.raises(MonitorError):
        groups.starts_group(row(4, chat_id=None))
