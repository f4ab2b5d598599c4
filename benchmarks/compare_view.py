"""Compare Families with four models: the shared probe's drag-to-pixels and the GUI while training.

Opens the Compare Families window offscreen on ``moons`` (10,000 items) and measures:

1. **GUI timer gaps while a family trains**: once the window has loaded what a trainer needs
   (it does so on the inference worker when it opens), Train is pressed and a 16 ms QTimer
   runs while the four families (PCA, AE, VAE, β-VAE, latent 2) train one after another in the
   background and each plane re-encodes its 10,000 points as snapshots arrive; p50 / p99 of
   the gaps between ticks. Floor: p99 ≤ 33 ms.
2. **Drag to pixels**: real mouse events drag the probe of the first plane along a circle (one
   move every ``--interval-ms``); for every move, the time from just before its event is sent
   (work done inside the event's handler counts) until the *second* family's
   decoded view has painted its reconstruction of the item nearest the probe (the shared
   probe crosses families: decode in one plane, nearest item in its map, reconstruction by
   another model, probes moved in all planes). p50 / p95. Floor: p95 ≤ 16 ms.

    python benchmarks/compare_view.py [--epochs 2] [--moves 200] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LATENTLAB_SETTINGS_DIR", tempfile.mkdtemp(prefix="latentlab-bench-"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from drag_latency import LEFT, NONE, PaintClock, probe_pixel, send_mouse, wait_until  # noqa: E402
from run import emit, machine, percentile, row  # noqa: E402

FAMILIES = ("pca", "ae", "vae", "beta-vae")


def train_with_timer(app: QApplication, window, timeout_s: float) -> list[float]:
    """Train every family; the gaps (ms) of a 16 ms timer while any of them trains."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        if window.session.running:
            gaps.append((now - last[0]) * 1000.0)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(16)
    timer.timeout.connect(tick)
    window.train_button.click()
    last[0] = time.perf_counter()
    timer.start()
    n = len(FAMILIES)
    done = wait_until(app, lambda: not window.session.running
                      and all(window.session.ready(k) and window.panels[k].has_points() for k in range(n)), timeout_s)
    timer.stop()
    if not done:
        raise RuntimeError(f"the families did not finish training within {timeout_s:.0f} s")
    return gaps


def drag_to_reconstruction(app: QApplication, window, moves: int, interval_s: float) -> list[float]:
    """Drag the first plane's probe; latency (ms) until the second panel paints a new image."""
    source, target = window.panels[0], window.panels[1]
    clock = PaintClock(target.decoded)
    target.decoded.installEventFilter(clock)
    viewport = source.plane.viewport()
    start = probe_pixel(source.plane)
    radius = 0.25 * min(viewport.width(), viewport.height())
    centre = QPoint(start.x() - int(radius), start.y())
    send_mouse(viewport, QEvent.Type.MouseMove, start, NONE, NONE)
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, LEFT, LEFT)
    sent: list[tuple[float, int]] = []
    next_at = time.perf_counter()
    pos = start
    for i in range(1, moves + 1):
        while time.perf_counter() < next_at:
            app.processEvents()
        angle = 2.0 * math.pi * i / 120.0
        pos = QPoint(centre.x() + int(radius * math.cos(angle)), centre.y() + int(radius * math.sin(angle)))
        before = id(target.decoded.current_image())
        # From before the event is sent: a handler that does its work at once counts it too.
        sent_at = time.perf_counter()
        send_mouse(viewport, QEvent.Type.MouseMove, pos, NONE, LEFT)
        sent.append((sent_at, before))
        next_at += interval_s
    wait_until(app, lambda: clock.painted and clock.painted[-1][0] > sent[-1][0] + 0.05, 2.0)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    app.processEvents()
    target.decoded.removeEventFilter(clock)
    latencies = []
    for t, before in sent:
        # Moves whose nearest item did not change leave the picture as it was: not counted.
        done = next((pt for pt, image in clock.painted if pt >= t and image != before), None)
        if done is not None:
            latencies.append((done - t) * 1000.0)
    return latencies


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2, help="training epochs of each family (default 2)")
    p.add_argument("--items", type=int, default=10_000, help="moons items (default 10,000)")
    p.add_argument("--moves", type=int, default=200, help="mouse moves of the drag (default 200)")
    p.add_argument("--interval-ms", type=float, default=16.0, help="time between mouse moves (default 16)")
    p.add_argument("--threads", type=int, default=1, help="training threads (default 1)")
    p.add_argument("--quick", action="store_true", help="1 epoch and 100 moves")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.moves = 1, 100
    import torch

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from latentlab.core.data import load_dataset
    from latentlab.gui.tools.compare_window import CompareWindow
    from latentlab.gui.workers import InferenceWorker, TrainingWorker

    data = load_dataset("moons", limit=args.items)
    worker = InferenceWorker()
    window = CompareWindow(data, make_trainer=lambda plan: TrainingWorker(plan.model_config, plan.data,
                                                                          plan.train_config, plan.initial),
                           submit=worker.submit, threads=args.threads)
    for k, box in enumerate(window.family_boxes):
        box.setCurrentText(FAMILIES[k])
    window.epochs_spin.setValue(args.epochs)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    # Train is pressed once the window has loaded what a trainer needs (a person chooses the
    # families first); loading it is a one-off of the process, not part of training a model.
    wait_until(app, lambda: window.session.warm, 60.0)
    started = time.perf_counter()
    gaps = train_with_timer(app, window, timeout_s=1800.0)
    trained_s = time.perf_counter() - started
    wait_until(app, lambda: False, 0.5)
    latencies = drag_to_reconstruction(app, window, args.moves, args.interval_ms / 1000.0)
    window.shutdown(5000)
    worker.shutdown(5000)
    window.close()

    where = (f"moons {len(data):,} items, {', '.join(FAMILIES)}, latent 2, {args.epochs} epoch(s) each "
             f"({trained_s:.0f} s), {args.threads} training thread(s)")
    rows = [
        row("compare", "GUI timer gap while training: p50", percentile(gaps, 50), "ms", note=where),
        row("compare", "GUI timer gap while training: p99", percentile(gaps, 99), "ms",
            note=f"{len(gaps)} ticks; floor 33 ms"),
        row("compare", "shared probe drag to another family's pixels: p50", percentile(latencies, 50), "ms",
            note=f"{len(latencies)} of {args.moves} moves changed the picture"),
        row("compare", "shared probe drag to another family's pixels: p95", percentile(latencies, 95), "ms",
            note="floor 16 ms"),
    ]
    if args.json:
        emit(rows)
        return 0
    print(machine(1))
    print(where)
    for r in rows:
        print(f"{r['measure']:<55} {r['value']:8.1f} {r['unit']}   {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
