"""Floors of the sequence families: what they learn and how fast they answer.

Three measurements, each against a floor, printed as one table with the machine and
``torch.backends.cpu.get_cpu_capability()``:

* **seq-vae on strokes** (latent 2, at most 90 s of training): a k-nearest-neighbour
  classifier (k = 5) fitted on the training codes classifies the validation codes by digit
  (floor 70 %); decoding one probe position and rendering it (96 px) takes at most 5 ms
  (median of 200).
* **rvae on waves** (latent 4, 32 steps, GRU 64 behind the family's default conv front end of
  5 steps, at most 240 s): linear factor R² of frequency and amplitude from the validation
  codes (floor 0.9 each), and at most half the latent units inactive. The likelihood's sigma is
  0.02, the waves' own noise: at 0.1 the faint waves (a sawtooth blended half-way with a sine,
  whose fundamentals cancel) are not worth coding and their frequency is lost.
* **stream-ae on a procedural three-channel stream** with injected spikes, level shifts and
  frozen stretches (windows of 64, stride 8, conv 32-64, latent 12: the normal stream's six
  sine phases take two code dimensions each): AUROC of the per-window score (the peak error,
  the worst step's squared error; the mean error is printed beside it) against "the window
  holds an anomaly" (floor 0.95), and scoring a 1,000,000-sample series (floor 100,000
  samples/s).

``--quick`` trains briefly on less data to check the script runs; its numbers are not the
floors'. Run from the repository root: ``python benchmarks/sequences.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from latentlab.core import inference, render  # noqa: E402
from latentlab.core.data import load_dataset  # noqa: E402
from latentlab.core.data.dataset import Dataset  # noqa: E402
from latentlab.core.data.sequences import procedural_stream  # noqa: E402
from latentlab.core.data.series import cut_windows, standardise  # noqa: E402
from latentlab.core.metrics import evaluate  # noqa: E402
from latentlab.core.models import ModelConfig  # noqa: E402
from latentlab.core.scoring import auroc, score_series  # noqa: E402
from latentlab.core.training import TrainConfig, train  # noqa: E402


def run_training(config: ModelConfig, data: Dataset, epochs: int, batch: int, lr: float,
                 budget_s: float, threads: int) -> tuple[object, float, int]:
    """Train; stop after ``budget_s`` seconds. Returns (model, seconds, epochs done)."""
    from latentlab.core.training import TrainControl

    control = TrainControl()
    gen = train(config, data, TrainConfig(epochs=epochs, batch_size=batch, lr=lr, threads=threads,
                                          device="cpu", seed=0), control=control)
    start = time.perf_counter()
    done = 0
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if getattr(item, "epoch_done", False):
            done = item.epoch
        if time.perf_counter() - start > budget_s:
            control.cancel()
    return result.model, time.perf_counter() - start, done


def knn_accuracy(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray, test_y: np.ndarray,
                 k: int = 5) -> float:
    correct = 0
    for lo in range(0, len(test_z), 1000):
        d = ((test_z[lo:lo + 1000, None, :] - train_z[None]) ** 2).sum(-1)
        nearest = np.argpartition(d, k, axis=1)[:, :k]
        votes = train_y[nearest]
        pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
        correct += int((pred == test_y[lo:lo + 1000]).sum())
    return correct / len(test_z)


def strokes_floor(quick: bool, threads: int) -> list[tuple[str, str, str, bool]]:
    data = load_dataset("strokes", limit=4000 if quick else 20000)
    config = ModelConfig(family="seq-vae", arch="mlp", input_shape=data.shape, latent_dim=2,
                         hidden=(512, 256), feature_names=data.feature_names, beta=1.0,
                         options={"sigma": 0.05})
    model, seconds, epochs = run_training(config, data, epochs=3 if quick else 60, batch=128, lr=2e-3,
                                          budget_s=15 if quick else 88, threads=threads)
    train_idx, val_idx = data.split(0.2, 0)
    z_train = inference.encode(model, data.images[train_idx])
    z_val = inference.encode(model, data.images[val_idx])
    acc = knn_accuracy(z_train, data.labels[train_idx].numpy(), z_val, data.labels[val_idx].numpy())
    spec = render.output_spec(config)
    probe = np.zeros(2, np.float32)
    times = []
    with torch.inference_mode():
        torch.set_num_threads(1)
        for k in range(200):
            probe[:] = (np.cos(k / 10), np.sin(k / 10))
            t = time.perf_counter()
            out = inference.decode(model, probe)
            render.render(out[0].numpy(), spec, size=96)
            times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1000
    return [
        ("seq-vae strokes: training", f"{seconds:.1f} s, {epochs} epochs", "<= 90 s", seconds <= 90),
        ("seq-vae strokes: 5-NN digit accuracy (val codes)", f"{acc:.1%}", ">= 70 %", acc >= 0.70),
        ("seq-vae strokes: decode + render one probe", f"{ms:.2f} ms", "<= 5 ms", ms <= 5),
    ]


def waves_floor(quick: bool, threads: int) -> list[tuple[str, str, str, bool]]:
    data = load_dataset("waves", limit=3000 if quick else 10000, window=32)
    config = ModelConfig(family="rvae", arch="gru", input_shape=data.shape, latent_dim=4, hidden=(64,),
                         feature_names=data.feature_names, kl_warmup_epochs=2,
                         options={"free_bits": 0.1, "clip": 1.0, "sigma": 0.02})
    model, seconds, epochs = run_training(config, data, epochs=2 if quick else 40, batch=128, lr=3e-3,
                                          budget_s=30 if quick else 240, threads=threads)
    _, val_idx = data.split(0.2, 0)
    metrics = evaluate(model, data.subset(val_idx))
    r2 = metrics["factor_r2"]
    active, total = metrics["active_units"], len(metrics["kl_per_dim"])
    return [
        ("rvae waves: training", f"{seconds:.1f} s, {epochs} epochs", "", True),
        ("rvae waves: factor R² frequency", f"{r2['frequency']:.3f}", ">= 0.9", r2["frequency"] >= 0.9),
        ("rvae waves: factor R² amplitude", f"{r2['amplitude']:.3f}", ">= 0.9", r2["amplitude"] >= 0.9),
        ("rvae waves: active units", f"{active} of {total} ({metrics['posterior']})", ">= half",
         active * 2 >= total),
    ]


def stream_floor(quick: bool, threads: int) -> list[tuple[str, str, str, bool]]:
    window, stride = 64, 8
    normal, _ = procedural_stream(40_000 if quick else 200_000, channels=3, seed=1)
    normal, center, scale = standardise(normal)
    windows, _ = cut_windows(normal, window, stride)
    data = Dataset(name="stream", images=torch.from_numpy(np.array(windows, order="C")), kind="sequence",
                   feature_names=("a", "b", "c"))
    # The normal stream is two sines per channel, six independent phases; a phase is a circle,
    # which a code holds in two dimensions, so the code needs twelve. With six the normal
    # windows reconstruct about twenty times worse and the anomalies stand out less.
    config = ModelConfig(family="stream-ae", arch="conv", input_shape=data.shape, latent_dim=12,
                         hidden=(32, 64), feature_names=data.feature_names)
    model, seconds, epochs = run_training(config, data, epochs=2 if quick else 40, batch=128, lr=2e-3,
                                          budget_s=20 if quick else 180, threads=threads)
    test, mask = procedural_stream(100_000, channels=3, seed=2, anomalies=60)
    test, _, _ = standardise(test, center, scale)
    scores = score_series(model, test, stride)
    starts = scores.starts
    # A window is anomalous when any of its samples is.
    csum = np.concatenate([[0], np.cumsum(mask)])
    positive = (csum[starts + window] - csum[starts]) > 0
    area = auroc(scores.peaks, positive)
    area_mean = auroc(scores.errors, positive)
    torch.set_num_threads(threads)
    long, _ = procedural_stream(1_000_000, channels=3, seed=3)
    long, _, _ = standardise(long, center, scale)
    t, cpu = time.perf_counter(), time.process_time()
    score_series(model, long, stride)
    rate = len(long) / (time.perf_counter() - t)
    # Samples per second of this process's own CPU time: what the rate would be on an idle
    # core, printed beside the wall-clock rate (the floor's) for a machine shared with others.
    cpu_rate = len(long) / max(time.process_time() - cpu, 1e-9)
    return [
        ("stream-ae: training", f"{seconds:.1f} s, {epochs} epochs", "", True),
        ("stream-ae: AUROC of window peak error", f"{area:.3f} ({int(positive.sum())} of "
         f"{len(positive)} windows anomalous)", ">= 0.95", area >= 0.95),
        ("stream-ae: AUROC of window mean error", f"{area_mean:.3f}", "", True),
        ("stream-ae: scoring 1,000,000 samples", f"{rate:,.0f} samples/s (stride {stride})", ">= 100,000",
         rate >= 100_000),
        ("stream-ae: the same per second of CPU time", f"{cpu_rate:,.0f} samples/s", "", True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short training on less data (not the floors)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training (default 1)")
    parser.add_argument("--only", choices=("strokes", "waves", "stream"), help="run one measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}")
    print(f"torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads} thread(s)")
    rows: list[tuple[str, str, str, bool]] = []
    for name, fn in (("strokes", strokes_floor), ("waves", waves_floor), ("stream", stream_floor)):
        if args.only in (None, name):
            rows += fn(args.quick, args.threads)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  {'value':<40}  {'floor':<12}  met")
    for name, value, floor, ok in rows:
        print(f"{name:<{width}}  {value:<40}  {floor:<12}  {'yes' if ok else 'NO'}")
    if args.quick:
        print("\n(--quick: short training; the floors apply to a full run)")


if __name__ == "__main__":
    main()
