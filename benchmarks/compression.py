"""A model as an image codec: the rate–distortion curve of a learned code against JPEG and WebP.

Trains an autoencoder (family ``ae``, MLP, latent 32 by default) on the reference MNIST split
(the 10,000 bundled digits, seed 0: 8,000 train, 2,000 validation), then compresses the 2,000
validation digits with :func:`latentlab.core.compress.compression_report`: each code value
quantised to B bits (32 values × 8 bits = 32 bytes an image), decoded, and compared with JPEG
and WebP (Pillow, file bytes including headers) whose quality is searched per image for the
largest file within the same bytes. It prints the whole curve — bit depths of the learned code
and codec qualities — and the floor check: at 8 bits the learned code's PSNR must be at least
3 dB above JPEG at its smallest achievable size.

    python benchmarks/compression.py             # 60 epochs (a few minutes on one core)
    python benchmarks/compression.py --quick     # 5 epochs, 500 validation images
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latentlab.core.compress import compression_report  # noqa: E402
from latentlab.core.data import load_dataset  # noqa: E402
from run import machine  # noqa: E402
from latentlab.core.models import ModelConfig  # noqa: E402
from latentlab.core.training import TrainConfig, train  # noqa: E402

FLOOR_DB = 3.0


def run(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--bits", default="8")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="5 epochs and 500 validation images")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = 5 if args.quick else args.epochs
    print(f"$ python benchmarks/compression.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"machine: {machine()}")
    data = load_dataset("mnist")
    _, val_idx = data.split(0.2, 0)
    config = ModelConfig(family="ae", arch="mlp", input_shape=data.shape, latent_dim=args.latent_dim, hidden=(400,))
    start = time.perf_counter()
    result = run(train(config, data, TrainConfig(epochs=epochs, seed=0, device="cpu")))
    print(f"trained ae latent {args.latent_dim}, {epochs} epochs in {time.perf_counter() - start:.0f} s "
          f"(validation recon {result.history[-1]['val']['recon']:.1f} nats)")
    val = data.subset(val_idx[:500] if args.quick else val_idx)
    start = time.perf_counter()
    report = compression_report(result.model, val.images, bits=args.bits)
    assert report is not None
    print(f"compressed {report['n']} validation digits in {time.perf_counter() - start:.0f} s\n")
    m = report["model"]
    print(f"at {m['bits']} bits ({m['bytes_per_image']} bytes per image; raw 784):")
    print(f"  {'codec':<8}{'bytes/img':>10}{'PSNR dB':>9}{'SSIM':>7}  note")
    print(f"  {'model':<8}{m['bytes_per_image']:>10.1f}{m['psnr']:>9.2f}{m['ssim']:>7.3f}")
    for codec in ("jpeg", "webp"):
        r = report[codec]
        note = (f"{r['fits_target'] * 100:.0f}% of files fit {r['target_bytes']} B; smallest "
                f"{r['min_bytes']} B, mean quality {r['mean_quality']:.0f}")
        print(f"  {codec:<8}{r['bytes_per_image']:>10.1f}{r['psnr']:>9.2f}{r['ssim']:>7.3f}  {note}")
    print("\nrate-distortion curve (lower bytes and higher PSNR/SSIM are better):")
    print(f"  {'codec':<8}{'setting':>9}{'bytes/img':>10}{'PSNR dB':>9}{'SSIM':>7}")
    for point in sorted(report["curve"], key=lambda q: q["bytes_per_image"]):
        setting = f"{point['bits']} bits" if point["codec"] == "model" else f"q {point['quality']}"
        print(f"  {point['codec']:<8}{setting:>9}{point['bytes_per_image']:>10.1f}{point['psnr']:>9.2f}"
              f"{point['ssim']:>7.3f}")
    codec_points = [q for q in report["curve"] if q["codec"] != "model"]
    model_points = [q for q in report["curve"] if q["codec"] == "model"]
    beaten = [q for q in codec_points if any(mp["bytes_per_image"] <= q["bytes_per_image"]
                                             and mp["psnr"] >= q["psnr"] for mp in model_points)]
    wins = [q for q in codec_points if q not in beaten]
    print(f"\ncodec points the learned code matches or beats on both size and PSNR: {len(beaten)} of "
          f"{len(codec_points)}")
    for q in wins:
        print(f"  not beaten: {q['codec']} q {q['quality']} at {q['bytes_per_image']:.0f} B, "
              f"PSNR {q['psnr']:.2f} dB (the learned code tops out at "
              f"{max(mp['psnr'] for mp in model_points):.2f} dB)")
    jpeg_smallest = report["jpeg"]
    margin = m["psnr"] - jpeg_smallest["psnr"]
    ok = m["bits"] == 8 and margin >= FLOOR_DB
    print(f"\nfloor: model at 8 bits vs JPEG at its smallest ({jpeg_smallest['bytes_per_image']:.0f} B): "
          f"{margin:+.2f} dB (needs +{FLOOR_DB:.0f}) -> {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
