"""The files that fit the program into a desktop session: autostart entry, systemd unit, man page, completions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vwm_overlay.docs import bash_completion, fish_completion, man_page, zsh_completion

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("vwm-overlay.1", man_page),
        ("completions/vwm-overlay.bash", bash_completion),
        ("completions/vwm-overlay.fish", fish_completion),
        ("completions/_vwm-overlay", zsh_completion),
    ],
)
def test_generated_files_match_the_parsers(path: str, make: object) -> None:
    assert callable(make)
    assert (DATA / path).read_text() == make(), f"regenerate: python -m vwm_overlay.docs ... > data/{path}"


def test_every_option_is_in_the_man_page_and_the_completions() -> None:
    from vwm_overlay.cli import command_parsers

    page, bash, fish, zsh = man_page(), bash_completion(), fish_completion(), zsh_completion()
    for parser in command_parsers().values():
        for action in parser._actions:
            for flag in (f for f in action.option_strings if f.startswith("--") and f != "--help"):
                assert flag.replace("-", "\\-") in page
                assert flag in bash
                assert f"-l {flag[2:]}" in fish
                assert f"'{flag}[" in zsh


def test_the_man_page_renders_without_warnings(tmp_path: Path) -> None:
    if shutil.which("man") is None:
        pytest.skip("needs man")
    done = _run(["man", "--warnings", "-l", str(DATA / "vwm-overlay.1")], env=dict(os.environ, MANWIDTH="100"))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "--toggle-all KEYS" in done.stdout and "EXIT STATUS" in done.stdout


@pytest.mark.parametrize(
    ("shell", "name"), [("bash", "vwm-overlay.bash"), ("fish", "vwm-overlay.fish"), ("zsh", "_vwm-overlay")]
)
def test_the_completions_parse(shell: str, name: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"needs {shell} (ci/setup installs it)")
    done = _run([shell, "-n", str(DATA / "completions" / name)])
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_autostart_entry_is_valid() -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("needs desktop-file-validate (desktop-file-utils; ci/setup installs it)")
    done = _run(["desktop-file-validate", str(DATA / "vwm-overlay.desktop")])
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr


def test_the_systemd_user_unit_verifies_with_the_program_and_its_man_page_installed(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("needs systemd-analyze")
    # A home as pip install --user leaves it, and the man page where man finds it.
    program = Path(sys.executable).parent / "vwm-overlay"
    if not program.exists():
        pytest.skip("the vwm-overlay entry point is not installed beside this interpreter")
    (tmp_path / "home" / ".local" / "bin").mkdir(parents=True)
    (tmp_path / "home" / ".local" / "bin" / "vwm-overlay").symlink_to(program)
    (tmp_path / "man" / "man1").mkdir(parents=True)
    shutil.copy(DATA / "vwm-overlay.1", tmp_path / "man" / "man1")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(tmp_path / "home"), MANPATH=str(tmp_path / "man"), XDG_RUNTIME_DIR=str(runtime))
    done = _run(["systemd-analyze", "--user", "verify", str(DATA / "vwm-overlay.service")], env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_license_is_the_gpl_3() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in text
    common = Path("/usr/share/common-licenses/GPL-3")
    if common.exists():
        assert text == common.read_text()


def test_fish_completes_options_and_commands() -> None:
    if shutil.which("fish") is None:
        pytest.skip("needs fish (ci/setup installs it)")
    script = DATA / "completions" / "vwm-overlay.fish"
    asks = ["vwm-overlay --hert", "vwm-overlay record --wi", "vwm-overlay tr"]
    done = _run(["fish", "-c", f"source {script}; " + "; ".join(f"complete -C '{a}'" for a in asks)])
    words = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert words == ["--hertz", "--width", "--wip-name", "tree"], done.stdout + done.stderr
