"""The broker password comes from a file or a systemd credential, never the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config.models import BrokerSettings
from edge_agent.errors import ConfigError
from edge_agent.transport.connection import read_password


def test_password_from_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "broker-password").write_text("from-credential\n")
    settings = BrokerSettings(password_credential="broker-password")
    assert read_password(settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == "from-credential"


def test_credential_without_credentials_directory_is_an_error() -> None:
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY"):
        read_password(BrokerSettings(password_credential="x"), {})


def test_password_file_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_password(BrokerSettings(password_file=tmp_path / "nope"), {})
    assert info.value.file == str(tmp_path / "nope")


def test_no_password_configured() -> None:
    assert read_password(BrokerSettings(), {}) is None


def test_config_has_no_password_key() -> None:
    assert "password" not in BrokerSettings.model_fields
