"""The GPU path, proven in one run: training, mixed precision, NCCL and inference on CUDA.

Run it on a machine with a CUDA GPU (it exits with status 2 and says so on one without):

    python benchmarks/gpu_check.py [--epochs 3] [--json]

It prints one table (and, with ``--json``, the rows ``run.py`` reads):

* the reference VAE (MLP 784-400-20, batch 128, the reference MNIST split) trained by
  LatentLab on the GPU in fp32, bf16 and fp16, against LatentLab on the CPU (one thread) and
  against the canonical PyTorch loop (``train_speed.py``'s, moved to the GPU) — images/s and
  the validation -ELBO after the same epochs, so a fast but broken run shows;
* a conv VAE (channels 32-64, latent 16; trained in the channels-last layout on CUDA) in the
  same three precisions;
* a distributed run: ``torchrun`` with the NCCL backend, one process per GPU (two when there
  are two; with one GPU a single NCCL process still proves the backend and the gradient
  hooks), checked to finish and to record its world size;
* the GUI's inference path on CUDA: decoding one probe position (the probe's per-frame cost)
  and encoding the whole split through :mod:`latentlab.core.inference`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from run import emit, machine, percentile, row  # noqa: E402

BATCH = 128


def _train(config: Any, data: Any, device: str, epochs: int, precision: str = "fp32", threads: int = 1):
    """(mean images/s over the epochs after the first, final validation -ELBO) of LatentLab's trainer."""
    from latentlab.core.training import Progress, TrainConfig, train

    gen = train(config, data, TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, seed=0, device=device,
                                          threads=threads, val_fraction=0.2, precision=precision))
    rates, val = [], float("nan")
    for item in gen:
        if isinstance(item, Progress) and item.epoch_done:
            rates.append(item.images_per_s)
            val = float(item.val.get("neg_elbo", float("nan")))
    steady = rates[1:] or rates
    return sum(steady) / len(steady), val


def _canonical_on_gpu(data: Any, epochs: int) -> tuple[float, float]:
    """The canonical PyTorch loop of train_speed.py, its model and batches on the GPU."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import train_speed as ts

    train_idx, val_idx = data.split(0.2, 0)
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = ts.CanonicalVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(data.images[train_idx]), batch_size=BATCH, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    rates = []
    for _ in range(epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for (x,) in loader:
            x = x.to(device, non_blocking=True)
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = ts.canonical_loss(recon, x, mu, logvar)
            loss.backward()
            loss.item()
            optimizer.step()
        torch.cuda.synchronize()
        rates.append(len(train_idx) / (time.perf_counter() - start))
    model.eval()
    total = 0.0
    with torch.no_grad():
        torch.manual_seed(0)
        for start in range(0, len(val_idx), BATCH):
            x = data.images[val_idx[start:start + BATCH]].to(device)
            recon, mu, logvar = model(x)
            total += ts.canonical_loss(recon, x, mu, logvar).item()
    steady = rates[1:] or rates
    return sum(steady) / len(steady), total / len(val_idx)


def training_rows(epochs: int) -> list[dict[str, Any]]:
    import torch

    from latentlab.core.data import load_dataset
    from latentlab.core.models import ModelConfig

    data = load_dataset("mnist")
    mlp = ModelConfig(family="vae", arch="mlp", input_shape=(1, 28, 28), latent_dim=20, hidden=(400,))
    conv = ModelConfig(family="vae", arch="conv", input_shape=(1, 28, 28), latent_dim=16, hidden=(32, 64))
    out = []
    cpu_rate, cpu_val = _train(mlp, data, "cpu", epochs)
    out.append(row("gpu", "reference VAE, CPU (1 thread), fp32", cpu_rate, "img/s", note=f"val -ELBO {cpu_val:.2f}"))
    canon_rate, canon_val = _canonical_on_gpu(data, epochs)
    out.append(row("gpu", "reference VAE, canonical PyTorch loop on the GPU", canon_rate, "img/s",
                   note=f"val -ELBO {canon_val:.2f}"))
    for name, config in (("reference VAE", mlp), ("conv VAE", conv)):
        for precision in ("fp32", "bf16", "fp16"):
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                out.append(row("gpu", f"{name}, GPU, bf16", None, "img/s", note="this GPU has no bfloat16"))
                continue
            rate, val = _train(config, data, "cuda", epochs, precision)
            baseline = canon_rate if config is mlp else None
            out.append(row("gpu", f"{name}, GPU, {precision}", rate, "img/s", baseline=baseline,
                           baseline_name="canonical loop on the GPU" if baseline else "",
                           note=f"val -ELBO {val:.2f}; {rate / cpu_rate:.1f}× the CPU" if config is mlp
                           else f"val -ELBO {val:.2f}"))
    return out


def nccl_row(epochs: int) -> dict[str, Any]:
    import torch

    procs = min(2, torch.cuda.device_count())
    with tempfile.TemporaryDirectory(prefix="latentlab-nccl-") as tmp:
        out_dir = os.path.join(tmp, "model")
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--standalone",
               "-m", "latentlab", "train", "--data", "mnist", "--epochs", str(epochs), "--batch-size", "256",
               "--device", "cuda", "--out", out_dir]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
        seconds = time.perf_counter() - start
        ok = done.returncode == 0 and os.path.isfile(os.path.join(out_dir, "config.json"))
        recorded = ""
        if ok:
            with open(os.path.join(out_dir, "config.json"), encoding="utf-8") as f:
                train_info = json.load(f).get("train", {})
            recorded = f"recorded world_size {train_info.get('world_size')}, backend {train_info.get('backend')}"
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] if not ok else []
        note = f"{procs} process(es), {seconds:.0f} s; " + (recorded if ok else f"FAILED: {' '.join(tail)}")
        return row("gpu", f"torchrun, NCCL, {procs} GPU process(es)", 1.0 if ok else 0.0, "ok", note=note)


def inference_rows() -> list[dict[str, Any]]:
    import torch

    from latentlab.core import inference
    from latentlab.core.checkpoint import load_model
    from latentlab.core.data import load_dataset
    from latentlab.resources_path import resource_path

    loaded = load_model(str(resource_path("models", "mnist-vae-2d")))
    model = loaded.model.to("cuda").eval()
    data = load_dataset("mnist")
    times = []
    for k in range(300):
        z = torch.tensor([[0.01 * k, -0.01 * k]])
        torch.cuda.synchronize()
        start = time.perf_counter()
        inference.decode(model, z)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    start = time.perf_counter()
    codes = inference.encode_dataset(model, data)
    torch.cuda.synchronize()
    encode_s = time.perf_counter() - start
    return [row("gpu", "decode one probe position on CUDA: p50", percentile(times, 50), "ms"),
            row("gpu", "decode one probe position on CUDA: p95", percentile(times, 95), "ms"),
            row("gpu", f"encode {len(codes):,} items on CUDA", encode_s * 1000.0, "ms")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    args = p.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing to measure",
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rows = training_rows(args.epochs) + [nccl_row(1)] + inference_rows()
    if args.json:
        emit(rows)
        return 0
    print(f"machine: {machine()}; GPU: {torch.cuda.get_device_name(0)} × {torch.cuda.device_count()}, "
          f"CUDA {torch.version.cuda}")
    for r in rows:
        value = "n/a" if r["value"] is None else f"{r['value']:10.1f}"
        ratio = f"  ({r['ratio']:.2f}× {r['baseline_name']})" if r.get("ratio") else ""
        print(f"{r['measure']:<52} {value} {r['unit']:<6}{ratio}  {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
