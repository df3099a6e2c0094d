"""Suite-wide setup.

Files the tests create are private to the user (umask 077), as the deployment guide has the
daemon's own files: config files holding secrets and SQLite stores that others can read are
refused (tests of that check set the loose modes themselves).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog


def pytest_configure(config: pytest.Config) -> None:
    os.umask(0o077)


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A CLI run configures structlog for the process (level filter, output stream): undo it
    after each test, so tests that capture logs see every event whatever ran before them."""
    yield
    structlog.reset_defaults()
