from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from monitor.config import PLACEHOLDERS, Settings, load_settings, secret_values
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_gives_defaults_on_sqlite(tmp_path: Path) -> None:
    settings = load_settings(None, env={"XDG_DATA_HOME": str(tmp_path)})
    assert settings.source is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.hashing.min_pdq_quality == 50
    assert settings.matching.pdq == 31


def test_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[hashing]\nmin_pdq_quality = 70\n")
    settings = load_settings(None, env={"MONITOR_CONFIG": str(path)})
    assert settings.hashing.min_pdq_quality == 70
    assert settings.source == path


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    with pytest.raises(AttributeError):
        settings.hashing.max_bytes = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[hashing]\nmax_byts = 5\n", "hashing.max_byts"),
        ("[nonsense]\n", "nonsense"),
        ("[hashing]\nmax_bytes = 'big'\n", "hashing.max_bytes"),
        ("[hashing]\nmax_bytes = 0\n", "hashing.max_bytes"),
        ("[hashing]\nmin_pdq_quality = 101\n", "hashing.min_pdq_quality"),
        ("[hashing]\ndihedral = 'yes'\n", "hashing.dihedral"),
        ("[hashing]\nformats = 'JPEG'\n", "hashing.formats"),
        ("[matching]\npdq = 300\n", "matching.pdq"),
        ("[matching]\nphash = 65\n", "matching.phash"),
        ("[logging]\nlevel = 'loud'\n", "logging.level"),
        ("[reports]\ntimezone = 'Mars/Olympus'\n", "reports.timezone"),
        ("[database]\nurl = 'mysql://x'\n", "database.url"),
        ("database = 5\n", "database"),
        ("data_dir = ''\n", "data_dir"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    assert info.value.key == key
    assert key in str(info.value)


def test_placeholder_is_refused(tmp_path: Path) -> None:
    ((section, key), value) = next(iter(PLACEHOLDERS.items()))
    with pytest.raises(ConfigError, match="placeholder") as info:
        load_settings(write(tmp_path, f'[{section}]\n{key} = "{value}"\n'), env={})
    assert info.value.key == f"{section}.{key}"


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[hashing\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_environment_overrides_secrets_only(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://u:pw@127.0.0.1/db"
    path = write(tmp_path, "[database]\nurl = 'sqlite+aiosqlite:///x.db'\n")
    settings = load_settings(
        path, env={"MONITOR_DATABASE_URL": url, "MONITOR_HASHING_MAX_BYTES": "1"}
    )
    assert settings.database_url == url
    assert settings.hashing.max_bytes == Settings().hashing.max_bytes


def test_example_config_loads_and_documents_every_key() -> None:
    example = ROOT / "config.example.toml"
    settings = load_settings(example, env={})
    defaults = Settings()
    assert settings.hashing == defaults.hashing
    assert settings.matching == defaults.matching
    assert settings.logging == defaults.logging
    assert settings.telegram == defaults.telegram
    assert settings.alerts == defaults.alerts
    text = example.read_text(encoding="utf-8")

    def check(obj: object, section: str) -> None:
        assert f"[{section}]" in text, f"[{section}] missing"
        body = text.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
        for f in fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if is_dataclass(value):
                check(value, f"{section}.{f.name}")
            else:
                assert re.search(rf"^#? ?{f.name} = ", body, re.M), (
                    f"{section}.{f.name} undocumented"
                )

    for f in fields(defaults):
        value = getattr(defaults, f.name)
        if is_dataclass(value):
            check(value, f.name)
    assert re.search(r"^#? ?data_dir = ", text, re.M)


def test_telegram_secrets_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "MONITOR_TELEGRAM_API_ID": "4242",
        "MONITOR_TELEGRAM_API_HASH": "f" * 32,
        "MONITOR_TELEGRAM_PROXY_PASSWORD": "proxy-pass-1",
        "MONITOR_ALERTS_WEBHOOK_URL": "https://hooks.internal/abc",
    }
    settings = load_settings(None, env=env)
    assert settings.telegram.api_id == 4242
    assert settings.telegram.configured
    assert settings.telegram.proxy.password == "proxy-pass-1"
    assert settings.alerts.targets == ("webhook",)
    assert "f" * 32 in secret_values(settings)
    assert "proxy-pass-1" in secret_values(settings)


def test_bad_api_id_in_environment_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"MONITOR_TELEGRAM_API_ID": "12ab"})
    assert info.value.key == "telegram.api_id"
    assert "MONITOR_TELEGRAM_API_ID" in str(info.value)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[telegram]\napi_id = 12345\n", "telegram.api_id"),
        ('[telegram]\napi_hash = "0123456789abcdef0123456789abcdef"\n', "telegram.api_hash"),
        ('[telegram.proxy]\ntype = "socks5"\n', "telegram.proxy.host"),
        ('[telegram.proxy]\ntype = "mtproxy"\nhost = "p"\nport = 443\n', "telegram.proxy.secret"),
        ('[telegram.proxy]\ntype = "tor"\n', "telegram.proxy.type"),
        ("[telegram.server]\nport = 70000\n", "telegram.server.port"),
        ('[telegram.media]\nkinds = ["photo", "voice"]\n', "telegram.media.kinds"),
        ('[telegram]\nchannels = "@one"\n', "telegram.channels"),
        ('[alerts]\nbot_token = "1:x"\n', "alerts.bot_chat"),
        ('[alerts]\nwebhook_url = "ftp://x"\n', "alerts.webhook_url"),
        ('[alerts]\nmin_tier = "weak"\n', "alerts.min_tier"),
        ("[alerts]\nretry_initial = 10.0\nretry_max = 5.0\n", "alerts.retry_max"),
        ('[telegram.server]\npublic_key = "/k.pem"\n', "telegram.server.public_key"),
    ],
)
def test_bad_telegram_and_alert_settings_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == key


# --- files and secrets kept private ------------------------------------------------------------


def test_a_config_with_secrets_that_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[telegram]\napi_id = 5\napi_hash = "' + "9" * 32 + '"\n', encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == "telegram.api_hash"
    assert "chmod 600" in str(info.value)
    assert "9" * 32 not in str(info.value)  # never the secret itself
    path.chmod(0o600)
    assert load_settings(path, env={}).telegram.api_hash == "9" * 32


def test_a_readable_config_without_secrets_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "postgresql+asyncpg://monitor@db/monitor"\n', encoding="utf-8"
    )
    path.chmod(0o644)
    assert load_settings(path, env={}).database.url.endswith("@db/monitor")
    path.write_text(
        '[database]\nurl = "postgresql+asyncpg://monitor:pw@db/monitor"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"database\.url.*chmod 600"):
        load_settings(path, env={})


def test_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "api_hash"
    secret.write_text("a" * 32 + "\n", encoding="utf-8")
    env = {"MONITOR_TELEGRAM_API_ID": "7", "MONITOR_TELEGRAM_API_HASH_FILE": str(secret)}
    settings = load_settings(None, env=env)
    assert settings.telegram.api_hash == "a" * 32
    assert settings.telegram.api_id == 7
    both = {**env, "MONITOR_TELEGRAM_API_HASH": "b" * 32}
    with pytest.raises(ConfigError, match="both"):
        load_settings(None, env=both)
    missing = {"MONITOR_ALERTS_BOT_TOKEN_FILE": str(tmp_path / "nope")}
    with pytest.raises(ConfigError, match=r"MONITOR_ALERTS_BOT_TOKEN_FILE: cannot read") as info:
        load_settings(None, env=missing)
    assert info.value.key == "alerts.bot_token"
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        load_settings(None, env={"MONITOR_ALERTS_WEBHOOK_SECRET_FILE": str(empty)})
