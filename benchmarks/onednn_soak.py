"""Soak test of the trainer's oneDNN fast linear path: do short trainings crash under load?

Segmentation faults inside the private oneDNN operator (``torch.ops.mkldnn._linear_pointwise``,
used by :func:`latentlab.core.device.fast_linear_layers`) were seen while the machine was busy.
This script runs many short trainings, each in its own process so that a crash is counted
rather than fatal, alternately with the fast path on and off, while competing busy processes
(torch matrix products of their own) keep the cores loaded. It prints one row per mode: runs,
crashes (killed by a signal: SIGSEGV, SIGABRT, ...), other failures, hangs (past --timeout)
and the median seconds per run.

    python benchmarks/onednn_soak.py --runs 20 --busy 2
    python benchmarks/onednn_soak.py --quick          # 6 runs per mode, for a first look

A crash with the fast path on and none with it off points at the private operator; the
trainer then must fall back to public operators (``set_fast_linear(False)``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
import torch
from latentlab.core.data import load_dataset
from latentlab.core.device import fast_linear_supported, set_fast_linear
from latentlab.core.models import ModelConfig
from latentlab.core.training import TrainConfig, train

fast, epochs, limit, threads, seed = sys.argv[1] == "1", int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
set_fast_linear(fast)
data = load_dataset("mnist", limit=limit)
config = ModelConfig(family="vae", arch="mlp", latent_dim=20, hidden=(400,))
start = time.perf_counter()
gen = train(config, data, TrainConfig(epochs=epochs, batch_size=128, seed=seed, device="cpu", threads=threads))
while True:
    try:
        next(gen)
    except StopIteration as stop:
        result = stop.value
        break
print(json.dumps({"seconds": time.perf_counter() - start, "fast": fast_linear_supported(),
                  "status": result.status, "loss": result.history[-1]["train"]["loss"]}))
"""

_BUSY = r"""
import torch
torch.set_num_threads(1)
a, b = torch.randn(512, 512), torch.randn(512, 512)
while True:
    a = torch.tanh(a @ b)
"""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def run_one(fast: bool, args: argparse.Namespace, seed: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-c", _CHILD, "1" if fast else "0", str(args.epochs), str(args.limit),
           str(args.threads), str(seed)]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"outcome": "hang", "seconds": time.perf_counter() - start}
    if done.returncode < 0:
        return {"outcome": "crash", "signal": _signal_name(done.returncode), "seconds": time.perf_counter() - start,
                "stderr": done.stderr[-400:]}
    if done.returncode != 0:
        return {"outcome": "error", "seconds": time.perf_counter() - start, "stderr": done.stderr[-400:]}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"outcome": "ok", **report}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20, help="trainings per mode (default 20)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per training (default 1)")
    p.add_argument("--limit", type=int, default=4000, help="MNIST digits per training (default 4000)")
    p.add_argument("--threads", type=int, default=2, help="torch threads of each training (default 2)")
    p.add_argument("--busy", type=int, default=1, help="competing busy processes (default 1)")
    p.add_argument("--timeout", type=float, default=300, help="seconds before a training counts as hung")
    p.add_argument("--quick", action="store_true", help="6 runs per mode")
    args = p.parse_args(argv)
    if args.quick:
        args.runs = 6
    print(f"oneDNN soak: {args.runs} runs per mode, {args.epochs} epoch(s) of {args.limit} digits, "
          f"{args.threads} thread(s), {args.busy} busy process(es); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores", flush=True)
    busy = [subprocess.Popen([sys.executable, "-c", _BUSY], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.busy)]
    results: dict[bool, list[dict]] = {True: [], False: []}
    try:
        for i in range(args.runs):
            for fast in ((True, False) if i % 2 == 0 else (False, True)):  # alternate: load hits both alike
                r = run_one(fast, args, seed=i)
                results[fast].append(r)
                mark = r["outcome"] if r["outcome"] != "crash" else f"CRASH {r['signal']}"
                print(f"  run {i + 1:3d} fast={'on ' if fast else 'off'} {mark:12s} {r['seconds']:6.1f} s", flush=True)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    print()
    print("| fast path | runs | crashes | errors | hangs | median s | rerouted |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for fast in (True, False):
        rs = results[fast]
        count = {k: sum(r["outcome"] == k for r in rs) for k in ("crash", "error", "hang")}
        ok = [r["seconds"] for r in rs if r["outcome"] == "ok"]
        rerouted = {r.get("fast") for r in rs if r["outcome"] == "ok"}
        print(f"| {'on' if fast else 'off'} | {len(rs)} | {count['crash']} | {count['error']} | {count['hang']} | "
              f"{statistics.median(ok) if ok else float('nan'):.1f} | {sorted(rerouted)} |")
    for fast in (True, False):
        for r in results[fast]:
            if r["outcome"] in ("crash", "error"):
                print(f"\nfast={'on' if fast else 'off'} {r['outcome']} {r.get('signal', '')}:\n{r['stderr']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
