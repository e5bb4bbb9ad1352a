"""The overlay program's settings and command line, without an X server."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from vwm_overlay.app_config import (
    AppConfig,
    ConfigError,
    add_overlay_arguments,
    config_from_arguments,
    default_config_path,
    load_config_file,
)
from vwm_overlay.app_save import chart_file_name
from vwm_overlay.x11 import DEFAULT_BINDINGS


def parse(argv: list[str], environ: dict[str, str]) -> AppConfig:
    parser = argparse.ArgumentParser()
    add_overlay_arguments(parser)
    return config_from_arguments(parser.parse_args(argv), environ)


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    config = parse([], {"HOME": str(tmp_path)})
    assert dict(config.bindings) == dict(DEFAULT_BINDINGS)
    assert config.hertz == 10.0
    assert config.output_dir == tmp_path / ".cache" / "vwm-overlay"
    assert not config.show_all and config.display is None


def test_the_command_line_wins_over_the_file_which_wins_over_defaults(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = tmp_path / "xdg" / "vwm-overlay" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('hertz = 20\noutput_dir = "~/charts"\n[keys]\ntoggle = "Mod4+F11"\nsave = ""\n')
    environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_config_path(environ) == path
    config = parse(["--toggle-all", "Mod1+a", "--show-all"], environ)
    assert config.bindings["toggle"] == "Mod4+F11"
    assert config.bindings["toggle_all"] == "Mod1+a"
    assert "save" not in config.bindings  # "" unbinds
    assert config.hertz == 20.0
    assert config.output_dir == home / "charts"
    assert config.show_all
    config = parse(["--hertz", "40", "--output-dir", str(tmp_path / "out"), "--toggle", "Mod4+F12"], environ)
    assert (config.hertz, config.output_dir, config.bindings["toggle"]) == (40.0, tmp_path / "out", "Mod4+F12")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hertz = [", "not valid TOML"),
        ("color = 1", "unknown setting 'color'"),
        ('hertz = "fast"', "hertz must be a number"),
        ("hertz = 5000", "the rate must be 1 to 1000 Hz"),
        ("keys = 3", "keys must be a table"),
        ('[keys]\nexplode = "Mod4+x"', "unknown action 'explode'"),
        ('[keys]\ntoggle = "Hyper+x"', "unknown modifier 'Hyper'"),
        ("[keys]\ntoggle = 1", "keys.toggle must be a string"),
    ],
)
def test_a_bad_config_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config_file(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vwm_overlay", *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_bad_settings_exit_with_status_2_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("hertz = 0")
    for args in (["--config", str(bad)], ["--config", str(tmp_path / "missing.toml")], ["--pause", "Mod4+"]):
        done = run_cli(*args)
        assert done.returncode == 2, done
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("vwm-overlay: "), done.stderr


def test_help_lists_commands_hotkeys_and_exit_codes() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    for text in ("tree", "Mod4+semicolon", "toggle_all", "Mod4+s", "--show-all", "exit status", "3    the overlay"):
        assert text in done.stdout, text


def test_saved_chart_names_are_safe_and_distinct() -> None:
    name = chart_file_name("~/ a window: with/slashes", 42, 1_700_000_000.123)
    assert "/" not in name and name.endswith("-123.png") and "-42-" in name
    assert chart_file_name(None, None, 0.0).startswith("window-nopid-")
    # Letters of any script stay: a title decoded from COMPOUND_TEXT names its file readably.
    assert chart_file_name("日本語 café", 7, 0.0).startswith("日本語_café-7-")
