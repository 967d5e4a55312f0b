"""A missing file, an unknown key or a bad value names file, key and line; exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli import main
from edge_agent.config.loader import load_config
from edge_agent.errors import ConfigError


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([tmp_path / "nope.toml"], environ={})
    assert info.value.file == str(tmp_path / "nope.toml")


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('device_id = "a"\n\n[broker]\nurl = "mqtt://127.0.0.1"\nurll = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config([f], environ={})
    err = info.value
    assert (err.file, err.key, err.line) == (str(f), "broker.urll", 5)
    assert "unknown key" in str(err)


def test_bad_value_in_fleet_device_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "fleet.toml"
    f.write_text("[defaults]\n\n[devices.d1]\nstats = { interval_s = -1 }\n")
    with pytest.raises(ConfigError) as info:
        load_config([f], device_id="d1", environ={})
    assert info.value.key == "devices.d1.stats.interval_s"
    assert info.value.line == 4


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config([], environ={"EDGE_AGENT_STATS__INTERVAL_S": "soon"})
    assert "EDGE_AGENT_STATS__INTERVAL_S" in str(info.value)


def test_unknown_env_key_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config([], environ={"EDGE_AGENT_BROKR__URL": "x"})
    assert "unknown key" in str(info.value)


def test_route_to_undefined_pipeline_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[routes.r]\ntopic = "a/+/b"\npipeline = "nope"\n')
    with pytest.raises(ConfigError, match="nope"):
        load_config([f], environ={})


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("a = 1\nb = = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config([f], environ={})
    assert info.value.line == 2


def test_config_check_exits_2_on_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_text("bogus = 1\n")
    assert main(["config", "check", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:1" in err
    assert "bogus" in err


def test_config_check_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "c.toml"
    f.write_text('device_id = "ok-1"\n')
    assert main(["config", "check", str(f)]) == 0
    assert "ok" in capsys.readouterr().out


def test_config_show_prints_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_text('topic_prefix = "tp"\n')
    assert main(["config", "show", "-c", str(f), "--device", "d9"]) == 0
    out = capsys.readouterr().out
    assert f'topic_prefix = "tp"  # file {f} ({f}:1)' in out
    assert 'device_id = "d9"  # flag --device' in out


def test_numeric_protocol_from_env_is_accepted() -> None:
    settings = load_config([], environ={"EDGE_AGENT_BROKER__PROTOCOL": "5"}).settings
    assert settings.broker.protocol == "5"


def test_forward_to_an_unknown_route_is_an_error() -> None:
    from edge_agent.config.models import AgentSettings

    with pytest.raises(ValueError, match="forwards to route 'nope'"):
        AgentSettings.model_validate(
            {"routes": {"a": {"topic": "x/+/t", "pipeline": "text", "forward": "nope"}}}
        )


def test_forward_cycle_is_an_error() -> None:
    from edge_agent.config.models import AgentSettings

    with pytest.raises(ValueError, match="cycle"):
        AgentSettings.model_validate(
            {
                "routes": {
                    "a": {"topic": "x/+/t", "pipeline": "text", "forward": "b"},
                    "b": {"pipeline": "text", "forward": "a"},
                }
            }
        )


def test_route_without_topic_must_be_a_forward_target() -> None:
    from edge_agent.config.models import AgentSettings

    with pytest.raises(ValueError, match="no topic and no route forwards to it"):
        AgentSettings.model_validate({"routes": {"a": {"pipeline": "text"}}})
