"""Training in the app against headless training, GUI timer gaps, and peak memory.

Two processes train the same model on the same data for the same time, one after the
other: a 2-D MLP VAE (hidden 400, batch 128, Adam 1e-3, seed 0) on the bundled MNIST
digits, with the app's training thread count (every core but one).

* in the app: ``gui_timer_gaps.py --drag`` (the real MainWindow and its controller, offscreen,
  the probe moved every 16 ms tick): its training speed and its GUI timer gaps;
* headless: :func:`latentlab.core.training.train` with the same model and training
  configuration the controller builds, no Qt in the process.

Training speed is the mean ``images_per_s`` of the last half of the progress reports in
both (the first reports include start-up). Peak memory is each process's ``ru_maxrss``.

    python benchmarks/memory.py [--seconds 20] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from run import emit, machine, peak_rss_mb, row, wait_with_rusage  # noqa: E402

STOLEN = re.compile(r"stolen by the host .*?: ([\d.]+) %")
GAPS = re.compile(r"timer gaps \(ms\)\s+p50\s+([\d.]+)\s+p99\s+([\d.]+)\s+max\s+([\d.]+)")
SPEED = re.compile(r"training speed in-app:\s+([\d,.]+) images/s")


def app_threads() -> int:
    """The app's default training threads (latentlab.app.training_threads, without Qt)."""
    return max(1, (os.cpu_count() or 2) - 1)


def headless_speed(seconds: float, threads: int) -> float:
    """Train the in-app benchmark's model headless for ``seconds``; mean img/s of the last half."""
    import torch

    from latentlab.core.data import load_dataset
    from latentlab.core.models import ModelConfig
    from latentlab.core.training import Progress, TrainConfig, TrainControl, train, warm_up

    torch.set_num_threads(threads)
    warm_up()
    data = load_dataset("mnist")
    # What the controller builds from the training panel's defaults (core.plan.plan_training).
    model = ModelConfig(family="vae", arch="mlp", input_shape=(1, 28, 28), latent_dim=2, hidden=(400,),
                        label_names=data.class_names)
    config = TrainConfig(epochs=50, batch_size=128, lr=1e-3, seed=0, device="cpu", threads=threads,
                         val_fraction=0.2, snapshot_interval_s=0.5, progress_interval_s=0.25)
    control = TrainControl()
    speeds: list[float] = []
    end = time.perf_counter() + seconds
    for item in train(model, data, config, control=control):
        if isinstance(item, Progress) and item.images_per_s > 0:
            speeds.append(item.images_per_s)
        if time.perf_counter() > end:
            control.cancel()
    tail = speeds[len(speeds) // 2:]
    return sum(tail) / len(tail)


def run_child(cmd: list[str], timeout_s: float) -> tuple[str, float]:
    """Run ``cmd`` offscreen; return (stdout, its peak RSS in MiB)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    code, rss = wait_with_rusage(proc, timeout_s)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {code}:\n{out[-2000:]}")
    return out, rss


def rows(quick: bool = False, seconds: float | None = None) -> list[dict[str, Any]]:
    """In-app vs headless training speed, timer gaps while training, peak memory."""
    secs = seconds or (8.0 if quick else 20.0)
    threads = app_threads()
    app_out, app_rss = run_child([sys.executable, os.path.join(HERE, "gui_timer_gaps.py"), "--seconds", str(secs),
                                  "--drag"], secs + 120)
    head_out, head_rss = run_child([sys.executable, os.path.abspath(__file__), "--headless-child", str(secs)],
                                   secs + 120)
    headless = json.loads(head_out.strip().splitlines()[-1])["images_per_s"]
    speed = SPEED.search(app_out)
    gaps = GAPS.search(app_out)
    if speed is None or gaps is None:
        raise RuntimeError("gui_timer_gaps.py printed no speed or gaps:\n" + app_out[-2000:])
    in_app = float(speed.group(1).replace(",", ""))
    where = "in a child process" if "in a child process" in app_out else "on a thread of the app"
    note = f"2-D MLP VAE on MNIST, {threads} training thread(s) {where}, {secs:g} s, probe dragged; floor 0.9"
    p50, p99, worst = (float(g) for g in gaps.groups())
    gap_note = f"16 ms timer while training, probe dragged; {secs:g} s"
    stolen = STOLEN.search(app_out)
    if stolen is not None:
        gap_note += f"; host took {stolen.group(1)} % of the processors"
    return [
        row("in-app training", "training images/s in the app", in_app, "img/s", headless, "headless train()",
            note=note),
        row("GUI timer gaps", "p50", p50, "ms", note=gap_note),
        row("GUI timer gaps", "p99", p99, "ms", note=gap_note + "; floor p99 <= 20"),
        row("GUI timer gaps", "max", worst, "ms", note=gap_note),
        row("peak memory", "app training (window, controller, worker)", app_rss, "MiB",
            note="gui_timer_gaps.py; the largest of the app and its training process"),
        row("peak memory", "headless training (core train(), MNIST)", head_rss, "MiB",
            note="the same model, no Qt"),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=None, help="training time of each run (default 20; 8 quick)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    p.add_argument("--headless-child", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.headless_child is not None:
        speed = headless_speed(args.headless_child, app_threads())
        print(json.dumps({"images_per_s": speed, "peak_rss_mb": peak_rss_mb()}))
        return 0
    result = rows(args.quick, args.seconds)
    if args.json:
        emit(result)
        return 0
    print(f"machine: {machine(app_threads())}")
    for r in result:
        ratio = "" if r["ratio"] is None else f"  ratio {r['ratio']:.2f} vs {r['baseline_name']}"
        print(f"{r['benchmark'] + ': ' + r['measure']:<56} {r['value']:10,.1f} {r['unit']}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
