"""[observability]: defaults, validation naming the key, and where `monitor health` looks."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ObservabilitySettings, load_settings
from monitor.errors import ConfigError
from monitor.health import probe_address


def _load(tmp_path: Path, body: str) -> ObservabilitySettings:
    path = tmp_path / "monitor.toml"
    path.write_text(f"[observability]\n{body}\n", encoding="utf-8")
    return load_settings(path, env={}).observability


def test_defaults_serve_on_loopback(tmp_path: Path) -> None:
    settings = load_settings(None, env={}).observability
    assert settings == ObservabilitySettings(enabled=True, bind="127.0.0.1", port=9464)
    assert _load(tmp_path, 'bind = "::1"\nport = 0').port == 0
    assert _load(tmp_path, 'bind = "0.0.0.0"\nport = 65535').bind == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ('bind = "localhost"', "observability.bind", "must be an IP address"),
        ('bind = "256.1.1.1"', "observability.bind", "must be an IP address"),
        ('bind = ""', "observability.bind", "must be an IP address"),
        ("bind = 127", "observability.bind", "must be a string"),
        ("port = 65536", "observability.port", "between 0 and 65535"),
        ("port = -1", "observability.port", "between 0 and 65535"),
        ('port = "9464"', "observability.port", "whole number"),
        ('enabled = "yes"', "observability.enabled", "true or false"),
        ("path = '/metrics'", "observability.path", "unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, body)
    assert info.value.key == key
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("bind", "host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.1.2.3", "10.1.2.3")],  # noqa: S104
)
def test_monitor_health_reaches_a_wildcard_bind_on_loopback(bind: str, host: str) -> None:
    assert probe_address(ObservabilitySettings(bind=bind, port=9000)) == (host, 9000)
