"""The layers' boundaries, read from the source with ``ast``: data flows from
/proc through ``vmon`` to ``chart``; ``x11`` knows neither /proc nor the engine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vwm_overlay"

CAIRO = ("cairo", "cairocffi", "cffi")
XLIB = ("Xlib",)


def modules(layer: str) -> list[Path]:
    found = sorted((PACKAGE / layer).rglob("*.py"))
    assert found, f"no modules in {layer}"
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, relative imports made absolute."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)


def strings(path: Path) -> Iterator[str]:
    """Every string constant in ``path`` but docstrings."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def is_under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_imports_are_read_with_relative_imports_resolved() -> None:
    names = set(imported(PACKAGE / "vmon" / "_monitor.py"))
    assert "vwm_overlay.errors" in names and "vwm_overlay.vmon._table" in names


@pytest.mark.parametrize("path", modules("vmon"), ids=lambda p: p.name)
def test_vmon_imports_neither_cairo_nor_xlib(path: Path) -> None:
    bad = [name for name in imported(path) if is_under(name, CAIRO + XLIB + ("vwm_overlay.chart", "vwm_overlay.x11"))]
    assert bad == []


@pytest.mark.parametrize("path", modules("chart"), ids=lambda p: p.name)
def test_chart_never_imports_xlib_nor_reads_proc(path: Path) -> None:
    bad = [
        name
        for name in imported(path)
        if is_under(name, (*XLIB, "vwm_overlay.x11"))
        # Of the engine, only its records: everything else there reads /proc.
        or (is_under(name, ("vwm_overlay.vmon",)) and not is_under(name, ("vwm_overlay.vmon.records",)))
    ]
    assert bad == []
    assert [s for s in strings(path) if "/proc" in s] == []


@pytest.mark.parametrize("path", modules("x11"), ids=lambda p: p.name)
def test_x11_never_reads_proc_nor_imports_the_engine(path: Path) -> None:
    assert [name for name in imported(path) if is_under(name, ("vwm_overlay.vmon",))] == []
    assert [s for s in strings(path) if "/proc" in s] == []
