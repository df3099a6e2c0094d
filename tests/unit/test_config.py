from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from monitor.config import PLACEHOLDERS, Settings, load_settings
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
    text = example.read_text(encoding="utf-8")
    for section in ("database", "hashing", "matching", "logging", "reports"):
        assert f"[{section}]" in text
        for f in fields(getattr(defaults, section)):
            assert re.search(rf"^#? ?{f.name} = ", text, re.M), f"{section}.{f.name} undocumented"
    assert re.search(r"^#? ?data_dir = ", text, re.M)
