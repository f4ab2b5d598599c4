"""The GUI's import graph: no circles, and every layer imports only the layers under it.

The layers, lowest first (a layer may import its own modules and those listed for it):

=============  =====================================================================
settings       remembered preferences                         (nothing of the GUI)
files          what a chosen model file stands for (open_model.py) (nothing of the GUI)
workers        background threads                             (nothing of the GUI)
views          widgets that show values                       views
state          Scene, Probe, Run models: Qt signals, no widgets   state
services       manifold.py, probe_decoder.py, probe_score.py,     state, workers
               training_run.py, placement.py, realness.py,
               quality_watch.py, autosave_watch.py, following.py, encode_pacing.py,
               frame_pacing.py
tools          the latent tools' state and panels             views, tools
window         the window shell                               views, tools, settings, files
controller     controller.py (the one that answers requests)  all of the above
               and the modules it owns (exports.py, the download dialog, the
               time-lapse recorder); adopt.py, which builds a window and controller
=============  =====================================================================

So views never see the state models, the window, the workers or the controller; the state
models never import a widget; the window never imports the controller. Imports inside
functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUI = REPO / "latentlab" / "gui"

ALLOWED = {
    "settings": set(),
    "files": set(),
    "workers": set(),
    "views": {"views"},
    "state": {"state"},
    "services": {"state", "workers", "services"},
    "tools": {"views", "tools"},
    "window": {"views", "tools", "settings", "files", "window"},
    "controller": {"settings", "files", "workers", "views", "state", "services", "tools", "window", "controller"},
}
WIDGET_MODULES = ("PySide6.QtWidgets", "PySide6.QtGui", "pyqtgraph", "superqt.qtcompat.QtWidgets")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in GUI.rglob("*.py")}


def _layer(module: str) -> str | None:
    rest = module.removeprefix("latentlab.gui").lstrip(".")
    top = rest.split(".")[0]
    if top in ("views", "state", "tools", "window"):
        return top
    return {"settings": "settings", "workers": "workers", "manifold": "services", "probe_decoder": "services",
            "probe_score": "services", "placement": "services", "realness": "services",
            "quality_watch": "services", "autosave_watch": "services", "run_follow": "workers",
            "following": "services", "encode_pacing": "services", "frame_pacing": "services",
            "training_run": "services", "controller": "controller", "exports": "controller",
            "open_model": "files", "adopt": "controller", "download_dialog": "controller",
            "timelapse_recorder": "controller"}.get(top)


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in it (``from pkg import submodule`` names the submodule)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return found


GRAPH = {m: {d for d in _imports(m) if d in MODULES and d != m} for m in MODULES}


def test_every_gui_module_has_a_layer() -> None:
    assert "latentlab.gui.controller" in MODULES and "latentlab.gui.state.scene" in MODULES
    unplaced = sorted(m for m in MODULES if m != "latentlab.gui" and _layer(m) is None)
    assert not unplaced, f"modules outside every layer: {unplaced}"


def test_the_gui_has_no_import_cycles() -> None:
    done: set[str] = set()
    stack: list[str] = []

    def visit(m: str) -> None:
        if m in done:
            return
        if m in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(m):], m]))
        stack.append(m)
        for dep in sorted(GRAPH[m]):
            visit(dep)
        stack.pop()
        done.add(m)

    for module in sorted(GRAPH):
        visit(module)


def test_layers_import_only_what_is_under_them() -> None:
    wrong = []
    for module, deps in sorted(GRAPH.items()):
        layer = _layer(module)
        if layer is None:
            continue
        for dep in sorted(deps):
            dep_layer = _layer(dep)
            if dep_layer is not None and dep_layer not in ALLOWED[layer]:
                wrong.append(f"{module} ({layer}) imports {dep} ({dep_layer})")
    assert not wrong, "\n".join(wrong)


def test_state_models_hold_no_widgets() -> None:
    for module in (m for m in MODULES if _layer(m) == "state"):
        bad = sorted(d for d in _imports(module) if d.startswith(WIDGET_MODULES))
        assert not bad, f"{module} imports widgets: {bad}"


def test_no_class_is_spread_over_files_by_mixins() -> None:
    # Every class of the GUI (controller, window, views, tools, state) is one class in one module.
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = [node.name, *(b.id for b in node.bases if isinstance(b, ast.Name))]
                assert not any(n.endswith("Mixin") for n in names), f"{module}: {node.name} uses a mixin"
