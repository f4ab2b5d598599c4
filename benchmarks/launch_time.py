"""Launch time: from starting the process to the first painted window and a usable probe.

Starts the app in a fresh process (offscreen) and reads three moments, in seconds since
the process was spawned:

* ``first-paint``: the main window has painted for the first time;
* ``probe-ready``: the bundled model is loaded and the decoded view shows the probe's image;
* ``points-ready``: the encoded digits are on the plane.

When the app supports ``LATENTLAB_TIMING=1`` (it then prints ``first-paint <t>`` and
``probe-ready <t>`` lines to stderr, ``t`` being ``time.time()`` or seconds since start),
``python -m latentlab`` itself is timed. Otherwise the same app entry
(``latentlab.app.main``) runs under a small driver that watches the window from inside
the process. The reference row is the bare cost of ``python -c "import PySide6.QtWidgets,
torch"``. Peak memory is the app process's own ``ru_maxrss``.

    python benchmarks/launch_time.py [--runs 5] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from run import compile_app, emit, machine, row, wait_with_rusage  # noqa: E402

T0_VAR = "LATENTLAB_BENCH_T0"
MARKS = ("first-paint", "probe-ready", "points-ready")


# A scratch settings store: a benchmark never changes the person's own window layout.
os.environ.setdefault("LATENTLAB_SETTINGS_DIR", tempfile.mkdtemp(prefix="latentlab-bench-"))

def app_has_timing_hook() -> bool:
    """Whether latentlab/app.py knows LATENTLAB_TIMING (read as text: importing it loads Qt)."""
    path = os.path.join(ROOT, "latentlab", "app.py")
    try:
        with open(path, encoding="utf-8") as f:
            return "LATENTLAB_TIMING" in f.read()
    except OSError:
        return False


def parse_marks(text: str, t0: float) -> dict[str, float]:
    """``{mark: seconds since spawn}`` from lines such as ``first-paint 1.23``.

    A value that looks like a Unix time (after the spawn) is made relative to ``t0``.
    """
    marks: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 2 and parts[0] in MARKS:
            try:
                value = float(parts[1])
            except ValueError:
                continue
            marks.setdefault(parts[0], value - t0 if value > 1e9 else value)
    return marks


def spawn_env(t0: float) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LATENTLAB_TIMING="1", **{T0_VAR: repr(t0)})
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def launch_once(use_app_hook: bool, timeout_s: float = 120.0) -> tuple[dict[str, float], float]:
    """One launch; returns (marks, peak RSS in MiB of the app process)."""
    cmd = ([sys.executable, "-m", "latentlab"] if use_app_hook
           else [sys.executable, os.path.abspath(__file__), "--child"])
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=spawn_env(t0), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:   # the app keeps running: stop it once it has said enough
        lines.append(line)
        if line.startswith("probe-ready") and (use_app_hook or any(x.startswith("points-ready") for x in lines)):
            break
    if use_app_hook:
        proc.terminate()
    proc.stderr.close()
    _, rss = wait_with_rusage(proc, timeout_s)
    marks = parse_marks("".join(lines), t0)
    if "probe-ready" not in marks:
        raise RuntimeError("the app never reported a usable probe:\n" + "".join(lines[-10:]))
    return marks, rss


def import_baseline() -> float:
    """Seconds for a fresh interpreter to import Qt widgets and torch, and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets, torch"], check=True, cwd=ROOT)
    return time.perf_counter() - start


def rows(quick: bool = False, runs: int | None = None) -> list[dict[str, Any]]:
    """Launch rows: first paint, usable probe, points; the import baseline; peak memory."""
    n = runs or (2 if quick else 5)
    compile_app()
    hook = app_has_timing_hook()
    import_baseline()   # the first run pays for cold file caches; neither side should
    launch_once(hook)
    baseline = statistics.median(import_baseline() for _ in range(n))
    results = [launch_once(hook) for _ in range(n)]
    how = "python -m latentlab, LATENTLAB_TIMING=1" if hook else "app.main under an in-process watcher"
    note = f"median of {n} launches; {how}; bundled model and MNIST; modules compiled as installed"
    out = []
    for mark in MARKS:
        values = [m[mark] for m, _ in results if mark in m]
        if values:
            out.append(row("launch", f"launch to {mark.replace('-', ' ')}", statistics.median(values), "s",
                           baseline, "import PySide6.QtWidgets, torch", note=note))
    out.append(row("launch", "reference: import PySide6.QtWidgets, torch", baseline, "s",
                   note=f"median of {n} fresh interpreters"))
    out.append(row("peak memory", "app after launch (model, MNIST encoded)",
                   max(rss for _, rss in results), "MiB", note="ru_maxrss of the app process"))
    return out


# ------------------------------------------------------------------ the watched child
def run_child() -> int:
    """Run the app's own main() while watching its window; print the marks to stderr."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    t0 = float(os.environ.get(T0_VAR, time.time()))
    app = QApplication([sys.argv[0]])
    seen: dict[str, float] = {}

    def mark(name: str) -> None:
        if name not in seen:
            seen[name] = time.time() - t0
            print(f"{name} {seen[name]:.4f}", file=sys.stderr, flush=True)

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
            if (event.type() == QEvent.Type.Paint and obj.isWidgetType()
                    and obj.window().objectName() == "mainWindow"):
                mark("first-paint")
                app.removeEventFilter(self)
            return False

    painter = FirstPaint()
    app.installEventFilter(painter)

    def poll() -> None:
        for w in app.topLevelWidgets():
            controller = latentlab_app.controller_of(w) if w.objectName() == "mainWindow" else None
            if controller is None:
                continue
            if controller.model_ready() and w.decoded.current_image() is not None:
                mark("probe-ready")
            if w.plane.point_count() > 0:
                mark("points-ready")
        if len(seen) == len(MARKS):
            app.quit()

    from latentlab import app as latentlab_app

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(5)

    return latentlab_app.main([])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=None, help="launches to take the median of (default 5; 2 quick)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return run_child()
    result = rows(args.quick, args.runs)
    if args.json:
        emit(result)
        return 0
    print(f"machine: {machine()}")
    for r in result:
        print(f"{r['measure']:<48} {r['value']:8.2f} {r['unit']}   {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
