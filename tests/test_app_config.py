"""The overlay program's settings and command line, without an X server."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cairocffi
import pytest

from vwm_overlay.chart import scale_for_dpi
from vwm_overlay.desktop import (
    BINDINGS,
    MAX_CONFIG_BYTES,
    AppConfig,
    ConfigError,
    add_overlay_arguments,
    chart_file_name,
    config_from_arguments,
    default_config_path,
    load_config_file,
    save_chart,
)
from vwm_overlay.x11 import DEFAULT_BINDINGS
from vwm_overlay.x11.resources import resource_value


def parse(argv: list[str], environ: dict[str, str]) -> AppConfig:
    parser = argparse.ArgumentParser()
    add_overlay_arguments(parser)
    return config_from_arguments(parser.parse_args(argv), environ)


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    config = parse([], {"HOME": str(tmp_path)})
    assert dict(config.bindings) == dict(BINDINGS) == {**DEFAULT_BINDINGS, "lanes": "Mod4+Shift+l"}
    assert config.hertz == 10.0
    assert config.scale is None and not config.lanes
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


def test_scale_and_lanes_from_the_file_and_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "vwm-overlay" / "config.toml"
    path.parent.mkdir()
    path.write_text('scale = 1.5\nlanes = true\n[keys]\nlanes = "Mod4+F9"\n')
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    config = parse([], environ)
    assert (config.scale, config.lanes, config.bindings["lanes"]) == (1.5, True, "Mod4+F9")
    config = parse(["--scale", "2", "--lanes"], environ)
    assert config.scale == 2.0


def test_the_scale_follows_the_screens_density_in_quarter_steps() -> None:
    assert [scale_for_dpi(dpi) for dpi in (None, 0, 96, 120, 144, 192, 200, 20, 1000)] == [
        1.0, 1.0, 1.0, 1.25, 1.5, 2.0, 2.0, 0.5, 4.0,
    ]  # fmt: skip
    database = "! Xft.dpi: 1\nXft.antialias:\t1\nXft.dpi:\t144\nXft.dpi : 192\n*dpi: 300\n"
    assert resource_value(database, "Xft.dpi") == "192"
    assert resource_value(database, "Xft.hinting") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hertz = [", "not valid TOML"),
        ("color = 1", "unknown setting 'color'"),
        ('hertz = "fast"', "hertz must be a number"),
        ("hertz = 5000", "the rate must be 1 to 1000 Hz"),
        ("keys = 3", "keys must be a table"),
        ("scale = 8", "the scale must be 0.5 to 4"),
        ('scale = "big"', "scale must be a number"),
        ('lanes = "yes"', "lanes must be true or false"),
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
    # Every option the overlay takes, listed (the hotkey options as one line).
    from vwm_overlay.cli import command_parsers

    for action in command_parsers()[""]._actions:
        if not action.dest.startswith("key_"):
            assert all(option in done.stdout for option in action.option_strings), action.option_strings


def test_saved_chart_names_are_safe_and_distinct() -> None:
    name = chart_file_name("~/ a window: with/slashes", 42, 1_700_000_000.123)
    assert "/" not in name and name.endswith("-123.png") and "-42-" in name
    assert chart_file_name(None, None, 0.0).startswith("window-nopid-")
    # Letters of any script stay: a title decoded from COMPOUND_TEXT names its file readably.
    assert chart_file_name("日本語 café", 7, 0.0).startswith("日本語_café-7-")


def test_a_config_file_that_is_no_text_file_is_one_clear_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'output_dir = "/tmp/caf\xe9"\n')
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # nobody writes to it: opening it to read would wait for ever
    for path, message in [
        (latin1, "not UTF-8 text (byte 22)"),
        (huge, "too large for a settings file"),
        (fifo, "not a regular file"),
        (Path("/dev/zero"), "not a regular file"),
        (tmp_path, "not a regular file"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)) as caught:
            load_config_file(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_bad_config_files_and_paths_exit_with_status_2_in_one_line(tmp_path: Path) -> None:
    nul = tmp_path / "nul.toml"
    nul.write_text('output_dir = "/tmp/a\\u0000b"\n')
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"# caf\xe9\n")
    for path in (nul, fifo, latin1, Path("/dev/zero")):
        done = run_cli("--config", str(path), env={**os.environ, "DISPLAY": ""})
        assert done.returncode == 2, done
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"vwm-overlay: {path}: "), done.stderr


class FakeChart:
    """What ``save_chart`` needs of a chart: a surface to write."""

    def to_surface(self) -> cairocffi.ImageSurface:
        surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 30, 20)
        context = cairocffi.Context(surface)
        context.set_source_rgb(0, 1, 1)
        context.paint()
        return surface


def test_a_save_writes_through_the_file_it_created_never_a_name_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "charts"
    path = save_chart(FakeChart(), out, "xcalc", 7)  # type: ignore[arg-type]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.iterdir()] == [path.name]

    # Another user of the directory swaps the temporary file for a symlink to a file of ours right after it
    # was created: nothing is written through the link, and nothing gets the final name.
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    real_mkstemp = tempfile.mkstemp

    def swapping_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)
        os.unlink(name)
        os.symlink(victim, name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", swapping_mkstemp)
    with pytest.raises(OSError, match="replaced by someone else"):
        save_chart(FakeChart(), out, "xcalc", 7)  # type: ignore[arg-type]
    assert victim.read_bytes() == b"precious"
    assert [p.name for p in out.iterdir()] == [path.name]


def test_the_lanes_hotkey_is_bound_by_its_own_option(tmp_path: Path) -> None:
    config = parse(["--lanes-key", "Mod4+F8"], {"HOME": str(tmp_path)})
    assert config.bindings["lanes"] == "Mod4+F8" and not config.lanes
