"""The layer rule: the core and the CLI work with Qt absent; the GUI never reaches into cli."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "superqt", "shiboken6", "qtpy")


def test_core_and_cli_import_with_qt_absent() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        f"for m in {QT!r}: sys.modules[m] = None\n"
        "import latentlab.core as core\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'latentlab.core.')]\n"
        "for name in names + ['latentlab.cli', 'latentlab.cli_export', 'latentlab.__main__']:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m in sys.modules and sys.modules[m] is not None for m in "
        f"{QT!r})\n"
        "print(len(names))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) >= 8  # data, models, training, checkpoint, latent, export, ...


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_arrows_point_down_only() -> None:
    pkg = REPO / "latentlab"
    for path in (pkg / "core").rglob("*.py"):
        bad = {m for m in _imports(path)
               if m.split(".")[0] in QT or m.startswith(("latentlab.gui", "latentlab.app", "latentlab.cli"))}
        assert not bad, f"{path.relative_to(REPO)} reaches up or into Qt: {sorted(bad)}"
    for path in (pkg / "gui").rglob("*.py"):
        bad = {m for m in _imports(path) if m.startswith(("latentlab.cli", "latentlab.app"))}
        assert not bad, f"{path.relative_to(REPO)} reaches sideways/up: {sorted(bad)}"


def test_the_command_line_modules_import_no_circle() -> None:
    # latentlab.cli adds the commands of cli_uses, cli_compare and cli_export; what they share
    # lives in cli_common, so none of them imports cli.py back.
    pkg = REPO / "latentlab"
    names = {f"latentlab.{p.stem}": p for p in pkg.glob("cli*.py")}
    assert {"latentlab.cli", "latentlab.cli_common", "latentlab.cli_uses"} <= set(names)
    graph = {name: {m for m in _imports(path) if m in names and m != name} for name, path in names.items()}
    assert all("latentlab.cli" not in deps for deps in graph.values())
    assert graph["latentlab.cli_common"] == set()   # the shared pieces depend on no command

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(d == goal or (d not in seen and reaches(d, goal, seen | {d})) for d in graph[start])

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert not circles, f"command-line modules in an import circle: {circles}"


def test_every_package_is_listed_for_the_wheel() -> None:
    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "latentlab").rglob("__init__.py")}
    assert on_disk <= listed, f"missing from pyproject.toml packages: {sorted(on_disk - listed)}"


def _runtime_imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The project modules ``module`` imports when it runs: deferred imports inside functions
    count, names needed only by type checkers (``if TYPE_CHECKING:``) do not. ``from pkg import
    sub`` is an import of ``pkg.sub`` when that is a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = {id(n) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for stmt in block.body for n in ast.walk(stmt)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def test_the_core_imports_no_circle_when_it_runs() -> None:
    # The family registry sits beneath the models, the metrics and the trainer: a family's
    # default validation is found by the metrics (validation_terms), not by the registry.
    pkg = REPO / "latentlab" / "core"
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for p in pkg.rglob("*.py")}
    graph = {name: _runtime_imports(path, name, set(files)) for name, path in files.items()}
    assert "latentlab.core.models.registry" in graph["latentlab.core.models.config"]   # the graph is read

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for d in graph[todo.pop()]:
                if d == goal:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    circles = sorted(name for name in graph if reaches(name, name))
    assert not circles, f"core modules in an import circle: {circles}"
