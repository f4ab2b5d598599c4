"""Pan and zoom frame time of the latent plane with 70,000 and 1,000,000 labelled points.

Shows a :class:`~latentlab.gui.views.plane_view.LatentPlaneView` offscreen with N points in
ten classes (70,000 is the size of full MNIST), then moves the view through its ViewBox as a
drag or the wheel does (the range change, then ``sigRangeChangedManually``): every frame is
one range change, the event processing it causes, and a full render of the widget
(``grab``). Prints the p50 / p95 frame time of panning and of zooming, and of a fresh render
of the dots — what the plane pays once a zoom pauses, or when the data change.

    python benchmarks/pan_zoom.py [--points N] [--frames 120] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from run import emit, machine, peak_rss_mb, percentile, row  # noqa: E402


SIZES = (70_000, 1_000_000)


def clustered_points(n: int, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 2-D points in ``classes`` Gaussian blobs, like the codes of a trained VAE."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres[labels] + rng.normal(scale=0.6, size=(n, 2)), labels


def frame_times(app: QApplication, view: Any, steps: list[Any]) -> list[float]:
    """Apply each view change, let Qt process it, render the widget; ms per frame."""
    times = []
    for step in steps:
        start = time.perf_counter()
        step()
        app.processEvents()
        view.grab()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def by_hand(vb: Any, change: Any) -> None:
    """Change the view as the ViewBox's mouse drag and wheel handlers do: the change, then
    ``sigRangeChangedManually`` (which tells the plane a person is moving it)."""
    change()
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])


def pan_steps(vb: Any, frames: int) -> list[Any]:
    # Back and forth, so the view stays over the points the whole time.
    rect = vb.viewRect()
    dx = rect.width() / 60.0
    return [lambda s=(dx if (i // 30) % 2 == 0 else -dx): by_hand(vb, lambda: vb.translateBy(x=s, y=s / 2))
            for i in range(frames)]


def zoom_steps(vb: Any, frames: int) -> list[Any]:
    return [lambda f=(0.95 if (i // 20) % 2 == 0 else 1 / 0.95): by_hand(vb, lambda: vb.scaleBy((f, f)))
            for i in range(frames)]


def settle_times(app: QApplication, view: Any, frames: int) -> list[float]:
    """ms to render the dots afresh and show them, as after a gesture pauses (no reuse)."""
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        view.point_cloud.invalidate_rendering()
        app.processEvents()
        view.grab()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def rows(quick: bool = False, points: int | None = None, frames: int | None = None) -> list[dict[str, Any]]:
    """Pan, zoom and fresh-render rows (p50, p95 ms) at 70,000 and 1,000,000 points (or ``points``)."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from latentlab.gui.views.plane_view import LatentPlaneView

    n_frames = frames or (60 if quick else 240)
    out = []
    for count in ([points] if points else SIZES):
        view = LatentPlaneView()
        view.resize(1000, 700)
        view.show()
        xy, labels = clustered_points(count)
        view.set_points(xy, labels, [str(k) for k in range(10)])
        for _ in range(3):   # first renders build caches (symbol atlas, brushes)
            app.processEvents()
            view.grab()
        vb = view.plotItem.vb
        note = f"{count:,} points, {n_frames} frames, 1000x700 view"
        for name, times in (("pan", frame_times(app, view, pan_steps(vb, n_frames))),
                            ("zoom", frame_times(app, view, zoom_steps(vb, n_frames))),
                            ("fresh render", settle_times(app, view, max(10, n_frames // 6)))):
            for q in (50, 95):
                out.append(row("pan/zoom", f"{name} at {count:,}: p{q}", percentile(times, q), "ms", note=note))
        view.close()
        out.append(row("peak memory", f"plane view with {count:,} points", peak_rss_mb(), "MiB"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=None, help="one size instead of 70,000 and 1,000,000")
    p.add_argument("--frames", type=int, default=None, help="frames per gesture (default 240; 60 with --quick)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    args = p.parse_args(argv)
    result = rows(args.quick, args.points, args.frames)
    if args.json:
        emit(result)
        return 0
    print(f"machine: {machine()}")
    for r in result:
        print(f"{r['measure']:<40} {r['value']:8.1f} {r['unit']}   {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
