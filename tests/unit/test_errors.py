"""Errors cross process boundaries (the hashing pool): each must survive pickling intact."""

from __future__ import annotations

import pickle

import pytest

from monitor.errors import ConfigError, HashListError, MediaError, MediaErrorReason, MonitorError


@pytest.mark.parametrize(
    "error",
    [
        MediaError(MediaErrorReason.TOO_LARGE, "30 bytes, limit 20 bytes"),
        ConfigError("hashing.max_bytes", "must be greater than 0"),
        HashListError("l.csv", 3, "bad hex", [(5, "too short")]),
    ],
)
def test_errors_pickle_round_trip(error: MonitorError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as the pool does
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    assert copy.exit_code == error.exit_code
