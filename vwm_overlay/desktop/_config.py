"""The overlay program's settings: defaults, ``config.toml``, then the command line.

Later sources win: a key given on the command line replaces the one from the
file, which replaces the default.  The file is optional; it lives at
``$XDG_CONFIG_HOME/vwm-overlay/config.toml`` (``~/.config/...`` by default)::

    hertz = 10
    output_dir = "~/Pictures/charts"
    scale = 2              # the charts' size; by default from the Xft.dpi resource
    lanes = true           # start with the IO and memory lanes shown

    [keys]
    toggle = "Mod4+semicolon"
    save = ""              # an empty string unbinds the action

Every mistake (a bad file, an unknown action, a malformed key) is a
:class:`ConfigError`, reported in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..x11.hotkeys import DEFAULT_BINDINGS, parse_binding

__all__ = [
    "ACTION_HELP",
    "BINDINGS",
    "MAX_CONFIG_BYTES",
    "AppConfig",
    "ConfigError",
    "add_overlay_arguments",
    "config_from_arguments",
    "default_config_path",
    "default_output_dir",
    "hotkeys_help",
    "load_config_file",
    "read_config_bytes",
]

#: What each hotkey does, in the order the help lists them.
ACTION_HELP: Mapping[str, str] = {
    "toggle": "show or hide the chart over the focused window",
    "toggle_all": "show or hide the charts over all windows",
    "rate_up": "sample faster (presets 1, 10, 20, 40, 60 Hz)",
    "rate_down": "sample slower",
    "pause": "pause or resume sampling",
    "discard": "forget the exited tasks on the focused chart",
    "save": "save the focused chart as a PNG (its path is printed)",
    "lanes": "show or hide the IO and memory lanes of the focused chart",
}

#: Every action's default keys: the hotkeys' vwm-like set and the overlay's own.
BINDINGS: Mapping[str, str] = {**DEFAULT_BINDINGS, "lanes": "Mod4+Shift+l"}

_FILE_KEYS = ("hertz", "output_dir", "scale", "lanes", "keys")


class ConfigError(UsageError):
    """The configuration file or an option is unusable; the message says where and why."""


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/vwm-overlay/config.toml``, with the XDG default for an unset or relative variable."""
    base = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    root = Path(base) if os.path.isabs(base) else _home(environ) / ".config"
    return root / "vwm-overlay" / "config.toml"


def default_output_dir(environ: Mapping[str, str]) -> Path:
    """Where saved charts go unless configured: ``$XDG_CACHE_HOME/vwm-overlay`` (``~/.cache/vwm-overlay``)."""
    base = environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else _home(environ) / ".cache"
    return root / "vwm-overlay"


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _expand_home(path: Path, environ: Mapping[str, str]) -> Path:
    """``~/x`` as the given environment's home would have it (``~user`` as the system says)."""
    if path.parts[:1] == ("~",):
        return _home(environ).joinpath(*path.parts[1:])
    return path.expanduser()


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything the overlay program needs to know before it connects."""

    #: The X display to use; None means ``$DISPLAY``.
    display: str | None = None
    #: ``{action: "Mod4+semicolon"}``; unbound actions are left out.
    bindings: Mapping[str, str] = field(default_factory=lambda: dict(BINDINGS))
    hertz: float = 10.0
    output_dir: Path = field(default_factory=lambda: default_output_dir(os.environ))
    #: Show every window's chart from the start (new windows too), as toggle-all would.
    show_all: bool = False
    #: Multiplies the charts' rows, text and gaps; None: from the screen's ``Xft.dpi`` resource (1 without it).
    scale: float | None = None
    #: Start every chart with its IO and memory lanes.
    lanes: bool = False


#: A settings file is a few lines; anything longer than this is not one (``--config /dev/zero``).
MAX_CONFIG_BYTES = 1 << 20


def read_config_bytes(path: Path) -> bytes:
    """The bytes of a settings file: a regular file of at most :data:`MAX_CONFIG_BYTES`.

    Opened without blocking, so a FIFO or a device given as the file is refused instead of waited on.
    """
    _check_path(path, str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path}: not a regular file")
        chunks = []
        size = 0
        while chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: too large for a settings file (over {MAX_CONFIG_BYTES} bytes)")
        return b"".join(chunks)
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}") from None
    finally:
        os.close(fd)


def _number(data: Mapping[str, Any], key: str, path: Path | str) -> float:
    """The setting ``key`` of the file at ``path``, which must be a number (TOML's true is not one)."""
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{path}: {key} must be a number, not {value!r}")
    return float(value)


def load_config_file(path: Path) -> dict[str, Any]:
    """The checked contents of a config file: ``hertz``, ``output_dir``, ``scale``, ``lanes`` and ``keys``."""
    raw = read_config_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(_FILE_KEYS)})")
    out: dict[str, Any] = {}
    if "hertz" in data:
        out["hertz"] = _checked_hertz(_number(data, "hertz", path), f"{path}: hertz")
    if "output_dir" in data:
        value = data["output_dir"]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: output_dir must be a non-empty string")
        _check_path(value, f"{path}: output_dir")
        out["output_dir"] = Path(value)
    if "scale" in data:
        out["scale"] = _checked_scale(_number(data, "scale", path), f"{path}: scale")
    if "lanes" in data:
        value = data["lanes"]
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: lanes must be true or false, not {value!r}")
        out["lanes"] = value
    if "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, dict):
            raise ConfigError(f'{path}: keys must be a table, e.g. [keys] toggle = "Mod4+semicolon"')
        for action, text in keys.items():
            if not isinstance(text, str):
                raise ConfigError(f'{path}: keys.{action} must be a string such as "Mod4+semicolon"')
            _check_binding(action, text, f"{path}: keys.{action}")
        out["keys"] = dict(keys)
    return out


# -- the command line ------------------------------------------------------------------------


def add_overlay_arguments(parser: argparse.ArgumentParser, *, hotkeys: bool = True) -> None:
    """The overlay program's options, on a parser the command line owns (``hotkeys``: one option per action)."""
    parser.add_argument("--display", metavar="DISPLAY", help="the X display (default: $DISPLAY)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="settings file (default: ~/.config/vwm-overlay/config.toml, if it exists)",
    )
    parser.add_argument("--hertz", metavar="HZ", type=float, help="samples per second (default 10)")
    parser.add_argument(
        "--output-dir", metavar="DIR", type=Path, help="where saved charts go (default: ~/.cache/vwm-overlay)"
    )
    parser.add_argument("--show-all", action="store_true", help="start with every window's chart shown")
    parser.add_argument(
        "--scale",
        metavar="F",
        type=float,
        help="multiply the charts' rows, text and gaps by F, 0.5 to 4 (default: the Xft.dpi resource / 96, else 1)",
    )
    parser.add_argument("--lanes", action="store_true", help="start with an IO and a memory lane under each process")
    if not hotkeys:
        return
    keys = parser.add_argument_group("hotkeys", 'KEYS is modifiers and an X key name, e.g. Mod4+Shift+F12; "" unbinds')
    for action, default in BINDINGS.items():
        keys.add_argument(
            _key_option(action),
            dest=f"key_{action}",
            metavar="KEYS",
            help=f"{ACTION_HELP[action]} (default {default})",
        )


def config_from_arguments(args: argparse.Namespace, environ: Mapping[str, str]) -> AppConfig:
    """Merge defaults, the config file and the parsed options into one :class:`AppConfig`."""
    path: Path | None = args.config
    explicit = path is not None
    if path is None:
        path = default_config_path(environ)
    _check_path(path, "--config" if explicit else "the settings file's path")
    from_file = load_config_file(path) if explicit or path.exists() else {}

    bindings = dict(BINDINGS)
    for action, text in from_file.get("keys", {}).items():
        bindings[action] = text
    for action in BINDINGS:
        text = getattr(args, f"key_{action}")
        if text is not None:
            _check_binding(action, text, _key_option(action))
            bindings[action] = text

    hertz = from_file.get("hertz", 10.0)
    if args.hertz is not None:
        hertz = _checked_hertz(args.hertz, "--hertz")
    scale: float | None = from_file.get("scale")
    if args.scale is not None:
        scale = _checked_scale(args.scale, "--scale")
    if args.output_dir is not None:
        _check_path(args.output_dir, "--output-dir")
    output_dir: Path = args.output_dir or from_file.get("output_dir") or default_output_dir(environ)
    _check_path(output_dir, "the output directory")
    return AppConfig(
        display=args.display,
        bindings={action: text for action, text in bindings.items() if text.strip()},
        hertz=hertz,
        output_dir=_expand_home(output_dir, environ).absolute(),
        show_all=bool(args.show_all),
        scale=scale,
        lanes=bool(args.lanes) or bool(from_file.get("lanes", False)),
    )


def hotkeys_help(bindings: Mapping[str, str] = BINDINGS) -> str:
    """One line per action: its keys, its name, what it does."""
    width = max(len(text) for text in bindings.values())
    return "".join(
        f"  {bindings.get(action, '(unbound)'):<{width}}  {action:<10}  {text}\n"
        for action, text in ACTION_HELP.items()
    )


def _key_option(action: str) -> str:
    """The option that binds ``action``'s keys: ``--rate-up``; ``--lanes-key``, as ``--lanes`` starts with lanes."""
    option = f"--{action.replace('_', '-')}"
    return f"{option}-key" if action == "lanes" else option


def _check_path(path: Path | str, where: str) -> None:
    """A path no system call can take (a NUL byte in it) is a usage error, found before it is used."""
    if "\0" in str(path):
        raise ConfigError(f"{where}: a path cannot hold a NUL character: {str(path)!r}")


def _check_binding(action: str, text: str, where: str) -> None:
    if action not in BINDINGS:
        raise ConfigError(f"{where}: unknown action {action!r} (known: {', '.join(BINDINGS)})")
    if text.strip():
        try:
            parse_binding(text)
        except UsageError as err:
            raise ConfigError(f"{where}: {err}") from None


def _checked_hertz(value: float, where: str) -> float:
    # Imported here: the chart package loads cairo, which the command line's help does not need.
    from ..schedule import MAX_HZ, MIN_HZ

    if not MIN_HZ <= value <= MAX_HZ:
        raise ConfigError(f"{where}: the rate must be {MIN_HZ:g} to {MAX_HZ:g} Hz, not {value:g}")
    return value


def _checked_scale(value: float, where: str) -> float:
    # Imported here, as for the rate: the chart package loads cairo.
    from ..chart.theme import MAX_SCALE, MIN_SCALE

    if not MIN_SCALE <= value <= MAX_SCALE:
        raise ConfigError(f"{where}: the scale must be {MIN_SCALE:g} to {MAX_SCALE:g}, not {value:g}")
    return value
