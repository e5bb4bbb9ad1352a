"""The man page and the shell completions, generated from the command line's own parsers.

    python -m vwm_overlay.docs man|bash|fish|zsh

prints one of them; ``data/`` holds the generated files, and a test keeps them
equal to what this prints, so an option added to a parser cannot be missing
from either.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator

from . import __version__
from .cli import EXIT_CODES_HELP, OVERLAY_DESCRIPTION, command_parsers

__all__ = ["bash_completion", "fish_completion", "man_page", "zsh_completion"]

_SUMMARY = "vwm's per-window process monitoring for every X11 desktop"

#: Every command (each has a parser in ``command_parsers``), with what it does in a few words.
_COMMANDS = {
    "record": "chart a command or a process to PNG files",
    "tree": "print a process tree once per sample",
    "plot": "draw the chart of a recorded run again",
    "compare": "compare two recorded runs",
}
#: Options that name a file, to be completed as files.
_FILE_OPTIONS = ("--config", "--jsonl", "--output", "--summary", "--trace", "--openmetrics")


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The parser's options, help excluded (every command has -h/--help)."""
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def _help_text(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {"default": action.default, "prog": "vwm-overlay"}
    return text


def _roff(text: str) -> str:
    """Text safe for roff: backslashes and hyphens escaped, no line starting with a control character."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in escaped.splitlines())


def _man_options(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for action in _options(parser):
        flags = ", ".join(f"\\fB{_roff(flag)}\\fR" for flag in action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or action.dest.upper()
            flags += f" \\fI{_roff(str(metavar))}\\fR"
        lines += [".TP", flags, _roff(_help_text(action))]
    return lines


def man_page() -> str:
    """``vwm-overlay(1)`` in roff (the man macros)."""
    parsers = command_parsers()
    out = [
        f'.TH VWM\\-OVERLAY 1 "" "vwm\\-overlay {__version__}" "User Commands"',
        ".SH NAME",
        f"vwm\\-overlay \\- {_roff(_SUMMARY)}",
        ".SH SYNOPSIS",
        "\\fBvwm\\-overlay\\fR [\\fIoptions\\fR]",
        ".br",
        "\\fBvwm\\-overlay record\\fR [\\fIoptions\\fR] \\fB\\-\\-\\fR \\fICMD\\fR [\\fIARGS\\fR...]",
        ".br",
        "\\fBvwm\\-overlay record\\fR [\\fIoptions\\fR] \\fB\\-\\-pid\\fR \\fIPID\\fR",
        ".br",
        "\\fBvwm\\-overlay tree \\-\\-pid\\fR \\fIPID\\fR [\\fIoptions\\fR]",
        ".br",
        "\\fBvwm\\-overlay plot\\fR \\fILOG\\fR \\fB\\-\\-output\\fR \\fIFILE\\fR [\\fIoptions\\fR]",
        ".br",
        "\\fBvwm\\-overlay compare\\fR \\fIA.jsonl\\fR \\fIB.jsonl\\fR [\\fIoptions\\fR]",
        ".SH DESCRIPTION",
        _roff(" ".join(OVERLAY_DESCRIPTION.split())),
        ".SH OPTIONS",
        *_man_options(parsers[""]),
        ".SH HOTKEYS",
        ".nf",
        _roff((parsers[""].epilog or "").split("\nexit status:")[0].split("\n", 1)[1].rstrip()),
        ".fi",
    ]
    for name in _COMMANDS:
        parser = parsers[name]
        out += [f".SH {name.upper()}", _roff(" ".join((parser.description or "").split())), *_man_options(parser)]
    out += [
        ".SH EXIT STATUS",
        ".nf",
        _roff(EXIT_CODES_HELP.split("\n", 1)[1].rstrip()),
        ".fi",
        ".SH FILES",
        ".TP",
        "\\fI~/.config/vwm\\-overlay/config.toml\\fR",
        "settings: rate, output directory, hotkeys (the [keys] table)",
        ".TP",
        "\\fI~/.cache/vwm\\-overlay/\\fR",
        "charts saved with the save hotkey",
        ".SH SEE ALSO",
        "\\fBvwm\\fR(1), \\fBxdotool\\fR(1)",
    ]
    return "\n".join(out) + "\n"


def _words(parser: argparse.ArgumentParser) -> str:
    return " ".join(flag for action in _options(parser) for flag in action.option_strings if flag.startswith("--"))


def _takes_value(parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    return sorted({flag for p in parsers.values() for a in _options(p) if a.nargs != 0 for flag in a.option_strings})


def bash_completion() -> str:
    """A bash completion script for ``vwm-overlay`` (commands, their options, and files or directories)."""
    parsers = command_parsers()
    dirs = sorted({f for p in parsers.values() for a in _options(p) for f in a.option_strings if "dir" in f})
    files = list(_FILE_OPTIONS)
    valued = [f for f in _takes_value(parsers) if f not in dirs and f not in files]
    return f"""\
# bash completion for vwm-overlay (generated by python -m vwm_overlay.docs bash)
_vwm_overlay() {{
    local cur prev words cword
    _init_completion || return
    case "$prev" in
        {"|".join(dirs)}) _filedir -d; return ;;
        {"|".join(files)}) _filedir; return ;;
        {"|".join(valued)}) return ;;
    esac
    local command=""
    local i
    for ((i = 1; i < cword; i++)); do
        case "${{words[i]}}" in
            {"|".join(_COMMANDS)}) command="${{words[i]}}"; break ;;
            --) return ;;
        esac
    done
    case "$command" in
{_bash_cases(parsers)}
        *) COMPREPLY=($(compgen -W "{" ".join(_COMMANDS)} {_words(parsers[""])} --help --version" -- "$cur")) ;;
    esac
}}
complete -F _vwm_overlay vwm-overlay
"""


def _bash_cases(parsers: dict[str, argparse.ArgumentParser]) -> str:
    return "\n".join(
        f'        {name}) COMPREPLY=($(compgen -W "{_words(parsers[name])} --help" -- "$cur")) ;;' for name in _COMMANDS
    )


def fish_completion() -> str:
    """A fish completion script for ``vwm-overlay``."""
    parsers = command_parsers()
    out = [
        "# fish completion for vwm-overlay (generated by python -m vwm_overlay.docs fish)",
        "complete -c vwm-overlay -f",
        *(
            f"complete -c vwm-overlay -n __fish_use_subcommand -a {name} -d '{what}'"
            for name, what in _COMMANDS.items()
        ),
    ]
    for name, parser in parsers.items():
        condition = "__fish_use_subcommand" if not name else f"__fish_seen_subcommand_from {name}"
        for action in _options(parser):
            for flag in action.option_strings:
                if not flag.startswith("--"):
                    continue
                kind = ""
                if action.nargs != 0:
                    kind = " -r -F" if "dir" in flag or flag in _FILE_OPTIONS else " -r"
                description = _help_text(action).replace("'", "\\'")
                out.append(f"complete -c vwm-overlay -n '{condition}' -l {flag[2:]}{kind} -d '{description}'")
    return "\n".join(out) + "\n"


def _zsh_spec(action: argparse.Action) -> list[str]:
    """``_arguments`` specs of one option: ``--flag[help]:metavar:action`` (brackets and colons escaped)."""
    text = _help_text(action)
    text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("'", "'\\''")
    specs = []
    for flag in action.option_strings:
        if not flag.startswith("--"):
            continue
        spec = f"{flag}[{text}]"
        if action.nargs != 0:
            metavar = str(action.metavar or action.dest.upper()).replace(":", "\\:")
            what = "_files -/" if "dir" in flag else "_files" if flag in _FILE_OPTIONS else " "
            spec += f":{metavar}:{what}"
        specs.append(f"'{spec}'")
    return specs


def zsh_completion() -> str:
    """A zsh completion function for ``vwm-overlay`` (install it as ``_vwm-overlay`` in ``$fpath``)."""
    parsers = command_parsers()

    def arguments(parser: argparse.ArgumentParser, extra: str = "") -> str:
        specs = [spec for action in _options(parser) for spec in _zsh_spec(action)]
        return " \\\n                ".join(["_arguments", *specs, *([extra] if extra else [])])

    return f"""\
#compdef vwm-overlay
# zsh completion for vwm-overlay (generated by python -m vwm_overlay.docs zsh)
_vwm-overlay() {{
    local -a commands
    commands=({" ".join(f"'{name}:{what}'" for name, what in _COMMANDS.items())})
    if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then
        _describe command commands
        return
    fi
    case $words[2] in
{_zsh_cases(parsers, arguments)}
        *)
            {arguments(parsers[""])} ;;
    esac
}}
_vwm-overlay "$@"
"""


def _zsh_cases(parsers: dict[str, argparse.ArgumentParser], arguments: Callable[..., str]) -> str:
    cases = []
    for name in _COMMANDS:
        extra = "'*::command:_normal'" if name == "record" else "'*:log:_files'" if name in ("plot", "compare") else ""
        shift = "            shift words; (( CURRENT-- ))"
        cases.append(f"        {name})\n{shift}\n            {arguments(parsers[name], extra)} ;;")
    return "\n".join(cases)


def main(argv: list[str]) -> int:
    makers = {"man": man_page, "bash": bash_completion, "fish": fish_completion, "zsh": zsh_completion}
    if len(argv) != 1 or argv[0] not in makers:
        print("usage: python -m vwm_overlay.docs man|bash|fish|zsh", file=sys.stderr)
        return 2
    sys.stdout.write(makers[argv[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
