"""Soak of the real window: many training and file cycles, counting crashes, hangs, Qt warnings, memory.

Drives the real main window and its controller (offscreen unless a display is asked for)
through two phases in one process, so that memory growth is seen:

* **training** (``--train-cycles``, default 200): a new window on 1,000 of the bundled MNIST
  digits; through the training panel's buttons: Start (the default MLP VAE), Pause, Resume
  (until a new progress report arrives), Stop, Start a new model (discarding the stopped one),
  then close the window while it trains;
* **files** (``--file-cycles``, default 100): a new window opens a model folder, a session
  for it (its bookmark comes back), then a ``.latentlab`` model file, and closes.

The cycles run in a child process watched by this one: a child killed by a signal is a
**crash**, a child silent for longer than ``--hang-s`` (default 30) a **hang** (killed); either
way a fresh child goes on with the next cycle. A cycle that takes longer than ``--hang-s`` is a
hang too. A Qt message handler counts every Qt warning (the same message is counted, and
shown once). Resident memory is read after the first cycle of each phase and after every
``--rss-every`` (default 50) cycles, each time after collecting garbage and handing the free
heap back to the system (glibc ``malloc_trim``): a reading is memory in use, not the
allocator's high-water mark, which moves by tens of MB with every data set loaded. Before a
reading the event loop runs (at most 5 s) until the closed windows' widgets are gone: a result
posted to a window just before it closed holds the window until it is delivered. Widgets still
alive after that are reported (a leak). The growth is the last reading minus the first one taken
after ``--rss-every`` cycles, in the same child: the reading after the first cycle comes before
the first cycles' one-off loading and varies by about 30 MB between runs, so it is shown but is
no baseline for a leak. Autosave goes to a private folder, and every run is closed with consent,
so no autosave folder may be left at the end.

Floor: 0 crashes, 0 hangs, memory growth under 50 MB.

    python benchmarks/gui_soak.py               # 200 + 100 cycles (about 20 minutes on 2 cores)
    python benchmarks/gui_soak.py --quick       # 20 + 10 cycles, memory every 10
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@soak "
# The training panel's choices for every run: the default MLP VAE (512-256, latent 2) on the
# 1,000 digits each window opens, on the CPU, long enough to be closed while it trains.
CHOICES = {"data": {"spec": "mnist"}, "model": {"family": "vae", "arch": "mlp", "latent_dim": 2},
           "train": {"epochs": 100, "batch_size": 64, "lr": 1e-3, "device": "cpu", "seed": 0}}
FLOOR_GROWTH_MB = 50.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-cycles", type=int, default=200)
    p.add_argument("--file-cycles", type=int, default=100)
    p.add_argument("--rss-every", type=int, default=50, help="read resident memory every N cycles (default 50)")
    p.add_argument("--hang-s", type=float, default=30.0, help="a cycle longer than this is a hang (default 30)")
    p.add_argument("--quick", action="store_true", help="20 training and 10 file cycles, memory every 10")
    p.add_argument("--child", metavar="STATE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.train_cycles, args.file_cycles, args.rss_every = 20, 10, 10
    return args


# ================================================================ the child: drives the window
def settle_closed_windows(limit_s: float = 5.0) -> int:
    """Let closed windows finish going (bounded); the number of widgets still alive.

    A result a background job posted to the window just before it closed waits in the event
    queue, holding the window's objects, until the event loop delivers it: without this, a
    reading now and then counts one whole closed window (about 15 MB) that goes a moment later.
    """
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + limit_s
    while True:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        alive = len(QApplication.allWidgets())
        if not alive or time.monotonic() > end:
            return alive
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def settled_rss_mb() -> float:
    """Resident memory in use: after collecting garbage and handing free heap back (glibc)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: the reading includes free heap
        pass
    return rss_mb()


def rss_mb() -> float:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def say(**record: Any) -> None:
    print(MARK + json.dumps(record), flush=True)


class Hang(Exception):
    """A cycle waited longer than the hang limit."""


class Driver:
    """One child's cycles over fresh windows (see the module doc)."""

    def __init__(self, qapp: Any, work: Path, hang_s: float) -> None:
        self.qapp, self.work, self.hang_s = qapp, work, hang_s
        self.deadline = 0.0

    # -- helpers --------------------------------------------------------------------------
    def wait(self, condition: Any, what: str) -> None:
        """Run the event loop until ``condition()`` holds, looking every 20 ms; sleeping in the
        loop between looks (not polling it), so the app's own threads keep their share of the
        processor as they would with a person at the window."""
        from PySide6.QtCore import QEventLoop, QTimer

        while not condition():
            if time.monotonic() > self.deadline:
                raise Hang(f"waited over {self.hang_s:.0f} s for {what}")
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()

    def window(self, items: int | None = 1000) -> tuple[Any, Any]:
        from latentlab.gui.controller import AppController
        from latentlab.gui.window.main_window import DISCARD, MainWindow

        window = MainWindow()
        controller = AppController(window, training_threads=1)
        controller.ask_unsaved = lambda _text: DISCARD
        window.show_error = lambda title, message: say(error=f"{title}: {message}")
        window.show_warning = lambda title, message: None   # a changed model's session: expected here
        if items and not controller.open_data("mnist", limit=items):
            raise RuntimeError("could not load the bundled MNIST digits")
        window.resize(1100, 700)
        window.show()
        return window, controller

    def close(self, window: Any, controller: Any) -> None:
        from PySide6.QtCore import QCoreApplication, QEvent

        worker = controller.training.worker
        window.close()
        if not window.closed:
            raise RuntimeError("the window did not close")
        if worker is not None and worker.isRunning():
            raise RuntimeError("the training thread outlived its window")
        if controller.inference.isRunning():
            raise RuntimeError("the inference thread outlived its window")
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def progressed(self, controller: Any) -> Any:
        """A condition: a progress report newer than the one shown now has arrived."""
        before = controller.run.progress
        return lambda: controller.run.progress is not None and controller.run.progress is not before

    def codes(self, controller: Any, what: str) -> None:
        key = controller.scene.model_key
        self.wait(lambda: controller.scene.codes is not None and controller.scene.model_key == key, what)

    # -- the cycles -----------------------------------------------------------------------
    def train_cycle(self) -> None:
        """Through the training panel's buttons, as a person would."""
        window, c = self.window()
        panel = window.training_panel
        panel.apply_choices(CHOICES)
        panel.start_button.click()
        self.wait(lambda: c.is_training, "the run to start")
        self.wait(self.progressed(c), "the first progress report")
        panel.pause_button.click()
        self.wait(lambda: c.run.status == "paused", "the pause")
        panel.pause_button.click()            # now "Resume"
        self.wait(lambda: c.run.status == "running", "the resume")
        self.wait(self.progressed(c), "a report after resuming")
        panel.stop_button.click()
        self.wait(lambda: c.run.status == "idle", "the run to stop")
        panel.start_button.click()            # a new model: the stopped one is discarded (asked)
        self.wait(lambda: c.is_training, "the second run to start")
        self.wait(self.progressed(c), "the second run's first report")
        self.close(window, c)                 # while training

    def prepare_files(self) -> tuple[Path, Path, Path]:
        """A model folder, a session that bookmarks it and a ``.latentlab`` model file."""
        import torch

        from latentlab.core.checkpoint import describe_data, save_model
        from latentlab.core.data import load_dataset
        from latentlab.core.models import ModelConfig, build_model

        data = load_dataset("mnist", limit=1000)
        torch.manual_seed(0)
        folder, packed = self.work / "model-a", self.work / "model-b.latentlab"
        save_model(folder, build_model(ModelConfig(latent_dim=2, hidden=(32,))), data_info=describe_data(data))
        save_model(packed, build_model(ModelConfig(latent_dim=3, hidden=(32,))), data_info=describe_data(data))
        session = self.work / "session.json"
        self.deadline = time.monotonic() + self.hang_s
        window, c = self.window(items=None)
        if not c.open_model(str(folder)):
            raise RuntimeError("could not open the model")
        self.codes(c, "the model's codes")
        c.ask_bookmark_name = lambda default: "soak"
        if not c.bookmark_probe() or c.save_session(str(session)) is None:
            raise RuntimeError("could not save the session")
        self.close(window, c)
        return folder, session, packed

    def file_cycle(self, folder: Path, session: Path, packed: Path) -> None:
        window, c = self.window(items=None)
        if not c.open_model(str(folder)):
            raise RuntimeError("could not open the model folder")
        self.codes(c, "the model folder's codes")
        if not c.open_session(str(session)):
            raise RuntimeError("could not open the session")
        self.wait(lambda: [b.name for b in c.tools.bookmarks] == ["soak"], "the session's bookmark")
        if not c.open_model(str(packed)):
            raise RuntimeError("could not open the .latentlab file")
        self.codes(c, "the model file's codes")
        self.close(window, c)


def child(args: argparse.Namespace) -> int:
    from latentlab import native_startup

    native_startup.limit_malloc_arenas()   # as the app does first thing (latentlab/app.py)
    import torch
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(1)
    state = json.loads(args.child)
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)   # the watchdog asks where a hang is
    def on_message(kind: Any, context: Any, text: str) -> None:
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            say(qt=f"{kind.name}: {text}")   # at once: a crash right after still shows it

    qInstallMessageHandler(on_message)
    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    from latentlab.core import train_process
    from latentlab.core.training import warm_up

    if not train_process.wanted():
        warm_up()   # the app warms training up in its own process only when it trains there
    driver = Driver(qapp, Path(state["work"]), args.hang_s)
    files: tuple[Path, Path, Path] | None = None
    for phase, total in (("train", args.train_cycles), ("files", args.file_cycles)):
        start = state["next"].get(phase, 1)
        for cycle in range(start, total + 1):
            say(begin=phase, cycle=cycle)
            began = time.monotonic()
            driver.deadline = began + args.hang_s
            error = None
            try:
                if phase == "train":
                    driver.train_cycle()
                else:
                    files = files or driver.prepare_files()
                    driver.deadline = time.monotonic() + args.hang_s
                    driver.file_cycle(*files)
            except Hang as exc:
                say(phase=phase, cycle=cycle, hang=str(exc))
                return 3   # the windows of a hung cycle are in an unknown state: start afresh
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not fatal
                error = f"{type(exc).__name__}: {exc}"
            seconds = time.monotonic() - began
            if seconds > args.hang_s:
                say(phase=phase, cycle=cycle, hang=f"the cycle took {seconds:.1f} s")
            say(phase=phase, cycle=cycle, seconds=round(seconds, 3), error=error)
            if cycle == start or cycle % args.rss_every == 0 or cycle == total:
                alive = settle_closed_windows()
                say(phase=phase, cycle=cycle, rss_mb=round(settled_rss_mb(), 1), widgets_alive=alive)
    autosave_root = Path(os.environ["LATENTLAB_AUTOSAVE_DIR"])
    left = [p.name for p in autosave_root.iterdir()] if autosave_root.is_dir() else []
    say(done=True, autosave_left=left)
    return 0


# ================================================================ the parent: a watchdog
def run_child(args: argparse.Namespace, state: dict[str, Any], env: dict[str, str],
              sink: Any) -> tuple[str, dict[str, Any] | None]:
    """Run one child from ``state``; returns how it ended ("done", "crash", "hang", "exit N")."""
    cmd = [sys.executable, __file__, "--child", json.dumps(state), "--train-cycles", str(args.train_cycles),
           "--file-cycles", str(args.file_cycles), "--rss-every", str(args.rss_every), "--hang-s", str(args.hang_s)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chooser = selectors.DefaultSelector()
    chooser.register(fd, selectors.EVENT_READ)
    last = None
    pending = b""
    silent_limit = args.hang_s + 30.0   # a cycle reports at least once per hang limit; start-up is slower
    while True:
        if not chooser.select(timeout=silent_limit):
            sink.extend(stacks_of(proc, fd))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return "hang", last
        chunk = os.read(fd, 1 << 16)   # unbuffered: every line that arrived is seen now
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if not line.startswith(MARK):
                sink.append(line.rstrip())
                continue
            record = json.loads(line[len(MARK):])
            if "begin" in record:
                last = record
            note(record, state)
    code = proc.wait()
    if code < 0:
        return f"crash ({signal.Signals(-code).name})", last
    return ("done" if code == 0 else f"exit {code}"), last


def stacks_of(proc: subprocess.Popen, fd: int, wait_s: float = 3.0) -> list[str]:
    """Every thread's stack in a silent child (it dumps them on SIGUSR1), as output lines."""
    proc.send_signal(signal.SIGUSR1)
    lines: list[bytes] = []
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        lines.extend(chunk.split(b"\n"))
    return ["stacks of the silent child:"] + [line.decode("utf-8", "replace") for line in lines if line.strip()]


RECORDS: list[dict[str, Any]] = []


def note(record: dict[str, Any], state: dict[str, Any]) -> None:
    """Keep a child's record; a finished cycle moves where a restarted child begins."""
    RECORDS.append(record)
    if "seconds" in record:
        state["next"][record["phase"]] = record["cycle"] + 1
        if record["phase"] == "files":
            state["next"]["train"] = 10**9   # the training phase is over
        done = record["cycle"]
        if done % 10 == 0:
            print(f"  {record['phase']}: {done} cycles", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child(args)
    sys.path.insert(0, str(HERE))
    from run import machine

    work = Path(tempfile.mkdtemp(prefix="latentlab-soak-"))
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               LATENTLAB_SETTINGS_DIR=str(work / "settings"), LATENTLAB_AUTOSAVE_DIR=str(work / "autosave"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    state: dict[str, Any] = {"work": str(work), "next": {}}
    print(f"machine: {machine(1)}")
    print(f"cycles: {args.train_cycles} training, {args.file_cycles} files; hang limit {args.hang_s:.0f} s")
    started = time.monotonic()
    endings, other_output = [], []
    while True:
        ending, last = run_child(args, state, env, other_output)
        endings.append((ending, last))
        if ending == "done":
            break
        if last is None or len(endings) > 20:
            print(f"giving up: the child ended with {ending} before a cycle began", file=sys.stderr)
            break
        state["next"][last["begin"]] = last["cycle"] + 1   # the next child goes on after the lost cycle
        if last["begin"] == "files":
            state["next"]["train"] = 10**9
    report(args, endings, other_output, time.monotonic() - started)
    return 0


def report(args: argparse.Namespace, endings: list[tuple[str, Any]], other: list[str], wall_s: float) -> None:
    crashes = [(e, last) for e, last in endings if e.startswith("crash")]
    silent = [(e, last) for e, last in endings if e == "hang"]
    hangs = [r for r in RECORDS if "hang" in r]
    errors = [r for r in RECORDS if r.get("error") and "seconds" in r]
    shown_errors = [r for r in RECORDS if "error" in r and "seconds" not in r]
    warnings = [r for r in RECORDS if "qt" in r]
    final = next((r for r in reversed(RECORDS) if r.get("done")), {})
    print(f"wall time {wall_s:.0f} s; {len(endings)} child process(es)")
    print()
    print(f"{'phase':<7} {'cycles':>6} {'failed':>6} {'median s':>8} {'max s':>7}   resident MB after cycle")
    growths = []
    for phase in ("train", "files"):
        cycles = [r for r in RECORDS if r.get("phase") == phase and "seconds" in r]
        if not cycles:
            continue
        times = sorted(r["seconds"] for r in cycles)
        rss = [(r["cycle"], r["rss_mb"]) for r in RECORDS if r.get("phase") == phase and "rss_mb" in r]
        failed = sum(1 for r in cycles if r["error"])
        print(f"{phase:<7} {len(cycles):>6} {failed:>6} {times[len(times) // 2]:>8.2f} {times[-1]:>7.2f}   "
              + "  ".join(f"{c}: {m:.0f}" for c, m in rss))
        growths += rss
    one_child = len(growths) >= 2 and len(endings) == 1
    # The floor's readings are those after every --rss-every cycles (the issue's "after each 50
    # cycles"); the one after the first cycle is shown too, but it comes before the first
    # cycles' one-off loading (it varies by 30 MB between runs) and is no baseline for a leak.
    steady = [(c, m) for c, m in growths if c % args.rss_every == 0]
    growth = steady[-1][1] - steady[0][1] if one_child and len(steady) >= 2 else None
    from_first = growths[-1][1] - growths[0][1] if one_child else None
    kept = [(r["phase"], r["cycle"], r["widgets_alive"]) for r in RECORDS if r.get("widgets_alive")]
    print()
    print(f"crashes: {len(crashes)}" + "".join(f"\n  {e} in {last['begin']} cycle {last['cycle']}"
                                             for e, last in crashes))
    print(f"hangs: {len(hangs) + len(silent)}" + "".join(f"\n  {r['phase']} cycle {r['cycle']}: {r['hang']}"
                                                        for r in hangs)
          + "".join(f"\n  silent child in {last['begin']} cycle {last['cycle']}" for _, last in silent))
    print(f"failed cycles: {len(errors)}" + "".join(f"\n  {r['phase']} cycle {r['cycle']}: {r['error']}"
                                                    for r in errors[:10]))
    if shown_errors:
        print(f"error dialogs: {len(shown_errors)}" + "".join(f"\n  {r['error']}" for r in shown_errors[:5]))
    kinds: dict[str, int] = {}
    for r in warnings:
        kinds[r["qt"]] = kinds.get(r["qt"], 0) + 1
    print(f"Qt warnings: {sum(kinds.values())}" + "".join(f"\n  {n} x {text}" for text, n in kinds.items()))
    if final:
        print(f"autosave folders left: {len(final.get('autosave_left', []))}")
    if other:
        stacks = [i for i, line in enumerate(other) if line == "stacks of the silent child:"]
        shown = other[stacks[-1]:stacks[-1] + 60] if stacks else other[-8:]
        print("other output of the child (" + ("the last hang's stacks" if stacks else "last lines") + "):\n  "
              + "\n  ".join(shown))
    print(f"widgets of closed windows still alive at a reading (5 s after closing): {len(kept)} reading(s)"
          + "".join(f"\n  {phase} cycle {cycle}: {n} widgets" for phase, cycle, n in kept))
    if growth is not None:
        print(f"memory growth: {growth:+.1f} MB (from the reading after the first {args.rss_every} cycles to the last; "
              f"{from_first:+.1f} MB from the reading after the first cycle)")
    else:
        print("memory growth: not measured (the child was restarted, or fewer than two readings "
              f"{args.rss_every} cycles apart)")
    ok = not crashes and not hangs and not silent and growth is not None and growth < FLOOR_GROWTH_MB
    print(f"floor (0 crashes, 0 hangs, growth < {FLOOR_GROWTH_MB:.0f} MB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
