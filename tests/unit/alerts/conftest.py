"""Fixtures for the alert tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.unit.alerts.helpers import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def closed_port_url() -> str:
    """An http:// URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
