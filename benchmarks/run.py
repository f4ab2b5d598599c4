"""Run every benchmark and print one table (plain text, or Markdown with --markdown).

Each benchmark runs in its own Python process: the GUI ones each need a fresh
QApplication, one benchmark's threads and caches must not slow the next, and a process
of its own gives every row an honest peak-memory figure. A benchmark script prints its
rows as JSON with ``--json``; this script collects them.

    python benchmarks/run.py --quick             # about two minutes
    python benchmarks/run.py --markdown          # the full run, as a Markdown table
    python benchmarks/run.py --only drag,pan     # a subset

The scripts share the small helpers below (:func:`row`, :func:`emit`, :func:`percentile`,
:func:`peak_rss_mb`, :func:`machine`); they import this module, never the other way round.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JSON_MARK = "BENCHMARK-ROWS "

# (key, script, what it measures); run in this order, cheapest first.
BENCHMARKS = (
    ("launch", "launch_time.py", "launch to first paint and to a usable probe"),
    ("pan", "pan_zoom.py", "pan/zoom frame time with 70,000 and 1,000,000 points"),
    ("drag", "drag_latency.py", "drag to decoded pixels, MLP and conv decoders"),
    ("gui", "memory.py", "in-app training vs headless, timer gaps, peak memory"),
    ("train", "run.py --train-rows", "training speed vs the canonical PyTorch loop (train_speed.py)"),
)


# ---------------------------------------------------------------- shared helpers
def row(benchmark: str, measure: str, value: float | None, unit: str, baseline: float | None = None,
        baseline_name: str = "", ratio: float | None = None, note: str = "") -> dict[str, Any]:
    """One table row. ``ratio`` defaults to value / baseline when both exist."""
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    return {"benchmark": benchmark, "measure": measure, "value": value, "unit": unit,
            "baseline": baseline, "baseline_name": baseline_name, "ratio": ratio, "note": note}


def emit(rows: list[dict[str, Any]]) -> None:
    """Print rows as one JSON line that :func:`collect` recognises."""
    print(JSON_MARK + json.dumps(rows), flush=True)


def compile_app() -> None:
    """Compile the app's modules to bytecode, as installing the wheel does (pip compiles what it
    installs, and torch and Qt are compiled so). A source checkout run with
    ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module it imports, in every
    run: at launch, and on whichever thread first imports a module (a background import then
    holds the interpreter lock for milliseconds at a time)."""
    import compileall

    compileall.compile_dir(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "latentlab"),
                           quiet=1)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value below which q% of ``values`` lie)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[k]


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


def wait_with_rusage(proc: subprocess.Popen, timeout_s: float) -> tuple[int, float]:
    """Wait for ``proc`` and return (exit code, its own peak RSS in MiB).

    ``os.wait4`` reports the usage of exactly that child, where RUSAGE_CHILDREN would give
    the largest of all children waited for so far.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss / 1024.0
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss / 1024.0
        time.sleep(0.01)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(torch_threads: int | None = None) -> str:
    """One line naming the CPU, core count, torch version, threads and CPU capability, and Python."""
    try:
        import torch

        torch_part = (f"torch {torch.__version__}, {torch_threads or torch.get_num_threads()} torch thread(s), "
                      f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    except ImportError:
        torch_part = "torch absent"
    return (f"{cpu_model()}, {os.cpu_count()} cores, {torch_part}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}")


# ---------------------------------------------------------------- collecting and printing
def collect(script: str, quick: bool, timeout_s: float) -> list[dict[str, Any]]:
    """Run one benchmark script with --json in a fresh process and return its rows."""
    name, *extra = script.split()
    cmd = [sys.executable, os.path.join(HERE, name), *extra, "--json"] + (["--quick"] if quick else [])
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return [row(script, "(did not finish)", None, "", note=f"timed out after {timeout_s:.0f} s")]
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(JSON_MARK)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [row(script, "(failed)", None, "", note=f"exit {done.returncode}: {tail}")]
    rows = json.loads(lines[-1][len(JSON_MARK):])
    print(f"  {script}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def train_rows(quick: bool) -> list[dict[str, Any]]:
    """Training images/s and validation -ELBO of LatentLab and the canonical loop.

    Reuses train_speed.py's interleaved run (3 epochs in quick mode, as its --quick; 10
    otherwise) on one seed; train_speed.py itself compares the final loss over several.
    """
    import contextlib
    import statistics

    import torch

    import train_speed
    from latentlab.core.data import load_dataset

    threads = 1
    torch.set_num_threads(threads)
    train_speed.warm_up()
    data = load_dataset("mnist")
    epochs = 3 if quick else 10
    with contextlib.redirect_stdout(sys.stderr):   # its per-epoch lines are progress, not rows
        results = train_speed.timed_run(data, epochs, 0, threads)
    ratios = [o / c for c, o, *_ in results]
    canonical_rate = len(results) * 8000 / sum(8000 / r[0] for r in results)
    ours_rate = len(results) * 8000 / sum(8000 / r[1] for r in results)
    finals = [(results[-1][4], results[-1][5])]
    if not quick:   # the seed alone moves the final loss by about a nat: compare a mean of five
        with contextlib.redirect_stdout(sys.stderr):
            finals += [train_speed.final_losses(data, epochs, seed, threads) for seed in range(1, 5)]
    c_elbo = statistics.mean(c for c, _ in finals)
    o_elbo = statistics.mean(o for _, o in finals)
    seeds = "one seed" if len(finals) == 1 else f"mean of {len(finals)} seeds"
    return [
        row("training speed", "training images/s (median per-epoch ratio)", ours_rate, "img/s", canonical_rate,
            "PyTorch example loop", ratio=statistics.median(ratios),
            note=f"{epochs} epochs, 784-400-20 VAE, batch 128, 1 thread"),
        row("training speed", f"validation -ELBO after {epochs} epochs", o_elbo, "nats", c_elbo,
            "PyTorch example loop", note=f"{seeds}; lower is better"),
        row("peak memory", "headless trainer and canonical loop (one process)", peak_rss_mb(), "MiB",
            note="train_speed.timed_run"),
    ]


def _num(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "nats":   # losses are compared to a tenth of a nat
        text = f"{value:.2f}"
    else:
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, Any]], markdown: bool) -> str:
    """Rows as a table: benchmark, measure, LatentLab, baseline, ratio, note."""
    head = ("Benchmark", "Measure", "LatentLab", "Baseline", "Ratio", "Note")
    body = []
    for r in rows:
        base = "" if r["baseline"] is None else f"{_num(r['baseline'], r['unit'])} ({r['baseline_name']})"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        body.append((r["benchmark"], r["measure"], _num(r["value"], r["unit"]), base, ratio, r["note"]))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*b) for b in body]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs of every benchmark (about two minutes)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--only", default="", help="comma-separated keys: " + ", ".join(k for k, *_ in BENCHMARKS))
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per benchmark (default 900)")
    p.add_argument("--train-rows", action="store_true", help=argparse.SUPPRESS)   # the child process
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.train_rows:
        sys.path.insert(0, ROOT)
        emit(train_rows(args.quick))
        return 0
    wanted = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = wanted - {k for k, *_ in BENCHMARKS}
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for key, script, what in BENCHMARKS:
        if wanted and key not in wanted:
            continue
        print(f"running {script}: {what}", file=sys.stderr, flush=True)
        rows += collect(script, args.quick, args.timeout)
    print(f"machine: {machine(1)}")
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}  "
          f"({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s)")
    print()
    print(table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
