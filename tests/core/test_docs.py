"""docs/architecture.md keeps up with the code: every package, top-level module and family is named."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from latentlab.core.models import registry

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "latentlab"
DOC = REPO / "docs" / "architecture.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_package_folder_is_described() -> None:
    text = _text()
    folders = sorted(p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py")
                     if p.parent != PACKAGE)
    assert "core" in folders and "gui/views" in folders  # the walk found the real tree
    missing = [f for f in folders if f"{f}/" not in text]
    assert not missing, f"docs/architecture.md does not name these package folders: {missing}"


def test_every_top_level_module_is_described() -> None:
    text = _text()
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert "cli.py" in modules
    missing = [m for m in modules if m not in text]
    assert not missing, f"docs/architecture.md does not name these modules: {missing}"


def test_every_built_in_family_is_listed() -> None:
    text = _text()
    built_in = [importlib.import_module(f"latentlab.core.models.{m}").FAMILY for m in registry.BUILTIN_MODULES]
    assert built_in and all(f.name in registry.names() for f in built_in)
    missing = [f.name for f in built_in if f"| `{f.name}` | {f.title} |" not in text]
    assert not missing, f"docs/architecture.md's family table lacks: {missing}"


def test_every_python_file_it_cites_exists() -> None:
    cited = set(re.findall(r"`((?:latentlab/|tests/)?(?:core|gui|cli|tests)[\w/]*\.py)`", _text()))
    assert "core/render.py" in cited
    missing = sorted(c for c in cited if not any((root / c).is_file() for root in (REPO, PACKAGE)))
    assert not missing, f"docs/architecture.md cites files that do not exist: {missing}"


def test_the_pyside6_pin_it_explains_is_the_one_in_pyproject() -> None:
    pin = re.search(r'"pyside6-essentials[^"]*<\s*([\d.]+)"', (REPO / "pyproject.toml").read_text())
    assert pin is not None
    assert f"pyside6-essentials<{pin.group(1)}" in _text()
