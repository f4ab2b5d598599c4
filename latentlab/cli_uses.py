"""CLI subcommands for what people use a model for: ``generate`` a data set, ``compress`` images.

Thin argparse wrappers over :mod:`latentlab.core.generate` and :mod:`latentlab.core.compress`,
plus the ``--labels N`` option of ``train`` (semi-supervised training, see
:mod:`latentlab.core.partial_labels`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from latentlab.core.errors import LatentLabError


def add_train_options(t: argparse.ArgumentParser) -> None:
    """Options of ``train`` that belong to these uses."""
    t.add_argument("--labels", type=int, metavar="N",
                   help="keep only N labels of the training split (balanced over the classes, seeded) and "
                        "treat the other images as unlabelled; for a family that classifies (ssvae)")


def add_commands(sub: Any) -> None:
    """Register ``generate`` and ``compress`` on the main parser's subparsers."""
    g = sub.add_parser("generate", help="sample a new data set from a model: PNG folder or .npz, with a manifest")
    g.add_argument("--model", required=True, metavar="DIR")
    g.add_argument("--n", type=int, default=1000, metavar="N",
                   help="items to generate (with --per-class: per class); default 1000")
    g.add_argument("--per-class", action="store_true", help="N items of every chosen class (conditional models)")
    g.add_argument("--class", dest="classes", action="append", default=[], metavar="K",
                   help="generate only this class (name or number; repeatable; conditional models)")
    g.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="scale of the prior's standard deviation (default 1; lower is tidier, less varied)")
    g.add_argument("--seed", type=int, default=0, metavar="S", help="seeds the codes (default 0)")
    g.add_argument("--out", metavar="DIR|FILE.npz",
                   help="a folder of PNGs (a subfolder per class) or an .npz file; with a manifest")
    g.add_argument("--force", action="store_true", help="replace a non-empty folder or an existing file")
    g.add_argument("--check", action="store_true",
                   help="print as JSON how often the bundled digit classifier agrees with each image's class")

    c = sub.add_parser("compress", help="use a model as an image codec and compare it with JPEG and WebP")
    c.add_argument("--model", required=True, metavar="DIR")
    c.add_argument("--data", metavar="SOURCE", help="images to compress (default: the model's validation split)")
    c.add_argument("--image-size", type=int, metavar="PX")
    c.add_argument("--color", choices=("auto", "gray", "rgb"), default="auto")
    c.add_argument("--limit", type=int, metavar="N", help="use only the first N items")
    c.add_argument("--bits", default="8", metavar="B",
                   help="bits per latent value, 1-16, or float16 (default 8)")
    c.add_argument("--report", required=True, metavar="FILE.json", help="where to write the JSON report")


class _Bar:
    """The CLI's progress style: a one-line bar on a terminal, nothing when piped."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream, self.what = stream, what
        self.tty = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.tty or (time.monotonic() - self._last < 0.1 and done < total):
            return
        self._last = time.monotonic()
        frac = done / max(1, total)
        self.stream.write(f"\r[{'#' * int(frac * 30):<30}] {self.what} {done:,}/{total:,}")
        if done >= total:
            self.stream.write("\r\033[K")
        self.stream.flush()


def cmd_generate(args: argparse.Namespace) -> int:
    from latentlab.core.checkpoint_read import load_model, model_content_hash
    from latentlab.core.generate import class_agreement, generate, write_set

    if args.out is None and not args.check:
        raise LatentLabError("say where to write the data set with --out DIR or FILE.npz (or pass --check)")
    if args.n < 1:
        raise LatentLabError(f"--n must be at least 1, got {args.n}")
    if not args.temperature > 0:
        raise LatentLabError(f"--temperature must be a positive number, got {args.temperature}")
    if args.out is not None:
        _check_out(Path(args.out), args.force)
    loaded = load_model(args.model)
    generated = generate(loaded.model, n=args.n, per_class=args.per_class, classes=args.classes,
                         temperature=args.temperature, seed=args.seed,
                         model_sha256=model_content_hash(args.model), progress=_Bar(sys.stderr, "decoding"))
    assert generated is not None  # no cancel check on the command line
    if args.out is not None:
        where = write_set(generated, args.out, force=args.force, progress=_Bar(sys.stderr, "writing"))
        print(f"wrote {len(generated):,} items to {where}", file=sys.stderr if args.check else sys.stdout)
    if args.check:
        print(json.dumps(class_agreement(generated), indent=2))
    return 0


def _check_out(out: Path, force: bool) -> None:
    """Refuse a destination before the work, not after it."""
    if out.is_dir() and any(out.iterdir()) and not force:
        raise LatentLabError(f"'{out}' is a folder that is not empty; choose another or pass --force to replace it")
    if out.is_file() and not force:
        raise LatentLabError(f"'{out}' exists; choose another name or pass --force to replace it")


def cmd_compress(args: argparse.Namespace) -> int:
    from latentlab.cli_common import validation_data
    from latentlab.core.checkpoint_read import load_model
    from latentlab.core.compress import compression_report, parse_bits
    from latentlab.core.atomic_file import atomic_write
    from latentlab.core.inference import check_compatible

    bits = parse_bits(args.bits)
    report_path = Path(args.report)
    if report_path.suffix.lower() != ".json":
        raise LatentLabError(f"--report must name a .json file, got '{args.report}'")
    if args.limit is not None and args.limit < 1:
        raise LatentLabError(f"--limit must be at least 1, got {args.limit}")
    loaded = load_model(args.model)
    data = validation_data(loaded.meta, args)
    if args.limit is not None and not args.data:
        import torch

        data = data.subset(torch.arange(min(args.limit, len(data))))
    check_compatible(loaded.config, data)
    report = compression_report(loaded.model, data.images, data.labels, bits=bits,
                                progress=_Bar(sys.stderr, "measuring"))
    assert report is not None
    report["data"] = {"name": data.name, "source": data.source}
    text = json.dumps(report, indent=2, allow_nan=True) + "\n"
    atomic_write(report_path, lambda f: f.write(text.encode("utf-8")))
    m = report["model"]
    print(f"model   {m['bytes_per_image']:>6} B/image  PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.3f}")
    for codec in ("jpeg", "webp"):
        r = report[codec]
        print(f"{codec:<7} {r['bytes_per_image']:>6.1f} B/image  PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.3f}")
    print(f"report  {report_path}")
    return 0


COMMANDS = {"generate": cmd_generate, "compress": cmd_compress}
