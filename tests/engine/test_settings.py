"""Configuration loading: the example is complete and valid; mistakes name the key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from bot.settings import BotSettings
from diagnostics.model import ConfigError
from diagnostics.settings import load_settings, read_secret

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "migrate-diag.example.yaml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= _keys(ann, prefix + name + ".")
    return keys


def _yaml_keys(data: dict[str, object], prefix: str = "") -> set[str]:
    keys = set()
    for name, value in data.items():
        keys.add(prefix + name)
        if isinstance(value, dict) and name not in {"hosts"}:
            keys |= _yaml_keys(value, prefix + name + ".")
    return keys


def test_example_config_loads_and_documents_every_setting() -> None:
    """The shipped example validates and names every setting the model has."""
    settings = load_settings(EXAMPLE, BotSettings)
    assert settings == BotSettings()  # the example shows the defaults
    documented = _yaml_keys(yaml.safe_load(EXAMPLE.read_text()))
    assert _keys(BotSettings) <= documented


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    """A typo is refused with the dotted key and the file name."""
    path = tmp_path / "bad.yaml"
    path.write_text("ssh:\n  konwn_hosts: /x\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: ssh\.konwn_hosts: Extra inputs"):
        load_settings(path, BotSettings)


def test_bad_value_names_key_and_file(tmp_path: Path) -> None:
    """A wrong type or range is refused with the key named."""
    path = tmp_path / "bad.yaml"
    path.write_text("engine:\n  collector_timeout_s: -1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: engine\.collector_timeout_s"):
        load_settings(path, BotSettings)


def test_secret_literal_in_yaml_is_refused(tmp_path: Path) -> None:
    """There is no place for a literal token in the YAML: such a key is unknown."""
    path = tmp_path / "c.yaml"
    path.write_text("slack:\n  bot_token: xoxb-123\n")
    with pytest.raises(ConfigError, match=r"slack\.bot_token"):
        load_settings(path, BotSettings)


def test_secrets_come_from_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret resolves from the named environment variable first, then the file."""
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    monkeypatch.delenv("MD_TEST_TOKEN", raising=False)
    assert read_secret("MD_TEST_TOKEN", secret_file).get_secret_value() == "from-file"  # type: ignore[union-attr]
    monkeypatch.setenv("MD_TEST_TOKEN", "from-env")
    assert read_secret("MD_TEST_TOKEN", secret_file).get_secret_value() == "from-env"  # type: ignore[union-attr]
    assert read_secret(None, None) is None
