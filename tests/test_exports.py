"""Every package's ``__all__`` is its curated public API: resolvable, and all that it binds publicly."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import vwm_overlay

PACKAGES = ["vwm_overlay"] + [f"vwm_overlay.{m.name}" for m in pkgutil.iter_modules(vwm_overlay.__path__) if m.ispkg]


def foreign_imports(package: types.ModuleType) -> set[str]:
    """Names the package's ``__init__`` imports from outside the project (the standard library's)."""
    assert package.__file__ is not None
    tree = ast.parse(Path(package.__file__).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith("vwm_overlay"):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def public_names(package: types.ModuleType) -> set[str]:
    """What the package binds for its users: not private, not a module, not imported from elsewhere."""
    foreign = foreign_imports(package)
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name not in foreign
    }


def exported(package: types.ModuleType) -> list[str]:
    names: list[str] = getattr(package, "__all__", [])
    return names


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_resolvable(name: str) -> None:
    package = importlib.import_module(name)
    names = exported(package)
    assert len(set(names)) == len(names)
    for item in names:
        assert not isinstance(getattr(package, item), types.ModuleType), item


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_what_the_package_binds(name: str) -> None:
    package = importlib.import_module(name)
    assert set(exported(package)) == public_names(package)


def test_the_engines_internal_modules_are_private() -> None:
    import vwm_overlay.vmon as vmon

    public_modules = {m.name for m in pkgutil.iter_modules(vmon.__path__) if not m.name.startswith("_")}
    assert public_modules == {"records"}  # the record types, which the chart and the overlay import
