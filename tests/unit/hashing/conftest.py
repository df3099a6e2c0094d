"""Shared fixtures for the hashing tests."""

from __future__ import annotations

import pytest

from monitor.config import HashingSettings


@pytest.fixture
def settings() -> HashingSettings:
    return HashingSettings()


@pytest.fixture
def no_gate() -> HashingSettings:
    """Every variant is queried whatever its PDQ quality."""
    return HashingSettings(min_pdq_quality=0)
