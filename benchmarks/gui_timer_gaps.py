"""How smooth is the GUI thread while training runs? Gaps between 16 ms timer ticks.

Starts the real main window (offscreen unless a display is asked for), trains a small
MLP VAE with a 2-D latent space on the bundled MNIST digits through the controller, and
meanwhile runs a 16 ms timer on the GUI thread that records the time between ticks.
With ``--drag`` it also moves the probe every tick, as a user dragging it would (through
the plane's ``probeMoved`` signal, the route of a mouse drag).

Prints p50 / p99 / max of the gaps (floor: p99 <= 20 ms), the training speed seen in the
app, and on Linux the share of processor time the host took from this machine while measuring
(steal: on a busy virtual machine it delays the GUI thread as much as the app's own work).

    python benchmarks/gui_timer_gaps.py --seconds 10 --drag

With ``--pan N`` it instead times frames of a pan over N scattered points (no training):
each frame moves the view by a few pixels and repaints the plane at once.

    python benchmarks/gui_timer_gaps.py --pan 70000
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from run import compile_app, percentile  # noqa: E402 - the suite's one nearest-rank percentile




def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) clock ticks of the whole machine so far (Linux ``/proc/stat``), else None.

    Steal is time the hypervisor gave this virtual machine's processors to others: a run with
    much of it measures the host's load as much as the app.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    return fields[7], sum(fields[:8])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="how long to measure (default 10)")
    p.add_argument("--epochs", type=int, default=50, help="training epochs (default 50; it stops after --seconds)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    p.add_argument("--threads", type=int, default=None, help="training torch threads (default: cores - 1)")
    p.add_argument("--drag", action="store_true", help="also move the probe every tick")
    p.add_argument("--manifold", action="store_true", help="also show the decoded manifold")
    p.add_argument("--pan", type=int, default=0, metavar="N",
                   help="time pan frames over N random points instead (no training)")
    return p.parse_args(argv)


def pan_frames(qapp: QApplication, n_points: int, frames: int = 120) -> int:
    """Time pan frames of the latent plane alone with ``n_points`` points in 10 classes."""
    import numpy as np

    from latentlab.gui.views.plane_view import LatentPlaneView

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_points)
    xy = rng.normal(size=(n_points, 2)) + labels[:, None] * 0.4
    view = LatentPlaneView()
    view.resize(900, 700)
    view.show()
    view.set_points(xy, labels, [str(k) for k in range(10)])
    qapp.processEvents()
    vb = view.plotItem.vb
    step = 4 * vb.viewPixelSize()[0]   # 4 screen pixels a frame, back and forth
    times = []
    for i in range(frames):
        start = time.perf_counter()
        vb.translateBy(x=step if (i // 30) % 2 == 0 else -step)
        view.viewport().repaint()
        times.append((time.perf_counter() - start) * 1000.0)
    print(f"pan of {n_points:,} points ({frames} frames, 900x700 widget): frame time (ms)  "
          f"p50 {percentile(times, 50):6.1f}   p99 {percentile(times, 99):6.1f}   max {max(times):6.1f}")
    view.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_app()   # as installed: no module compiles from source on a background thread mid-run
    from latentlab import native_startup

    native_startup.limit_malloc_arenas()   # as the app does first thing (latentlab/app.py)
    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    if args.pan:
        return pan_frames(qapp, args.pan)
    from latentlab.core.training import warm_up
    from latentlab.core.training_settings import TrainingSettings
    from latentlab.gui.controller import AppController
    from latentlab.gui.window.main_window import DISCARD, MainWindow

    window = MainWindow()
    controller = AppController(window, training_threads=args.threads)
    if controller.isolate_training:
        from latentlab.core import train_process

        train_process.prepare()   # the app starts the training process once its points show,
        train_process.wait_until_warm()   # long before a person presses Start
    else:
        warm_up()   # the app does this on a background thread at launch
    controller.ask_unsaved = lambda _text: DISCARD   # closing at the end discards the run
    if not controller.open_data("mnist", limit=args.limit):
        print("could not load the bundled MNIST digits", file=sys.stderr)
        return 1
    window.resize(1280, 800)
    window.show()
    qapp.processEvents()
    from latentlab.app import settle_heap

    settle_heap()   # as the app does once its start-up is over
    if args.manifold:
        window.manifold_action.trigger()

    speeds: list[float] = []
    outcome: list[str] = []
    window.show_error = lambda title, message: outcome.append(f"{title}: {message}")

    def on_run(run) -> None:
        p = run.progress
        if p is not None and p is not on_run.last and p.images_per_s > 0:   # each report once
            speeds.append(p.images_per_s)
        on_run.last = p
        if run.message:
            outcome[:] = [run.message]

    on_run.last = None
    controller.run_model.runChanged.connect(on_run)
    settings = TrainingSettings(data="mnist", family="vae", arch="mlp", latent_dim=2, beta=1.0,
                                kl_warmup_epochs=0, likelihood="bernoulli", epochs=args.epochs,
                                batch_size=args.batch_size, lr=1e-3, device="cpu", seed=0)
    gaps: list[float] = []
    last = [time.perf_counter()]
    phase = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if controller.is_training:
            gaps.append((now - last[0]) * 1000.0)
        last[0] = now
        if args.drag:
            phase[0] += 0.05
            # The route of a mouse drag on the plane: its signal, which the window and the
            # controller both follow.
            window.plane.probeMoved.emit(2.0 * math.cos(phase[0]), 2.0 * math.sin(phase[0]))

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(16)
    timer.timeout.connect(tick)
    if not controller.start_training(settings):
        print("training did not start", file=sys.stderr)
        return 1
    last[0] = time.perf_counter()
    ticks_before = cpu_ticks()
    timer.start()
    # The real event loop, as in the app; it ends after --seconds or when training ends.
    still_training = [False]

    def time_up() -> None:
        # Read the state first: in Qt 6, quit() also closes the window, which stops training.
        still_training[0] = controller.is_training
        qapp.quit()

    QTimer.singleShot(int(args.seconds * 1000), time_up)
    controller.run_model.runChanged.connect(lambda run: qapp.quit() if run.status == "idle" else None)
    qapp.exec()
    timer.stop()
    ticks_after = cpu_ticks()
    window.close()

    threads = controller.training_threads
    where = "a child process" if controller.isolate_training else "a thread of the app"
    print(f"cores: {os.cpu_count()}  training threads: {threads} in {where}  drag: {args.drag}  "
          f"manifold: {args.manifold}  measured while training: {len(gaps)} ticks"
          + ("" if still_training[0] else f" (training ended first: {'; '.join(outcome) or '?'})"))
    if gaps:
        print(f"timer gaps (ms)  p50 {percentile(gaps, 50):6.1f}   p99 {percentile(gaps, 99):6.1f}   "
              f"max {max(gaps):6.1f}   (floor: p99 <= 20)")
    if ticks_before is not None and ticks_after is not None and ticks_after[1] > ticks_before[1]:
        steal = 100.0 * (ticks_after[0] - ticks_before[0]) / (ticks_after[1] - ticks_before[1])
        print(f"processor time stolen by the host (a virtual machine) while measuring: {steal:.1f} %")
    if speeds:
        tail = speeds[len(speeds) // 2:]
        print(f"training speed in-app: {sum(tail) / len(tail):,.0f} images/s "
              f"(mean of the last {len(tail)} reports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
