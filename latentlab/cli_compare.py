"""The ``compare`` subcommand: several families trained on the same data, side by side.

A thin argparse wrapper over :mod:`latentlab.core.compare`: it trains the families one after
another, then writes ``compare.png`` (one column per family: its plane and the interpolation
strip between the same two items), ``metrics.json`` (what ``evaluate`` reports per family,
plus the mean off-manifold distance ratio along the interpolation) and, with ``--gif``,
``compare.gif`` (the families walking the path side by side).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from latentlab.core.errors import LatentLabError

SHEET_NAME = "compare.png"
METRICS_NAME = "metrics.json"
ANIMATION_NAME = "compare.gif"


def add_commands(sub: Any) -> None:
    """Register ``compare`` on the main parser's subparsers."""
    from latentlab.cli_common import add_data_options, positive_int
    from latentlab.core.compare import DEFAULT_FAMILIES, MAX_FAMILIES

    c = sub.add_parser("compare", help="train several families on the same data and draw them side by side")
    add_data_options(c, required=True)
    c.add_argument("--families", default=",".join(DEFAULT_FAMILIES), metavar="A,B,...",
                   help=f"up to {MAX_FAMILIES} families with an encoder, separated by commas "
                        f"(default {','.join(DEFAULT_FAMILIES)})")
    c.add_argument("--latent-dim", type=positive_int, default=2, metavar="D", help="latent size of every family (default 2)")
    c.add_argument("--epochs", type=positive_int, default=10, metavar="N", help="training epochs of each family (default 10)")
    c.add_argument("--from", dest="start", type=int, metavar="I",
                   help="the data item the interpolation starts at (with --to; default: the most different "
                        "pair of two classes, e.g. a full and a half moon)")
    c.add_argument("--to", dest="end", type=int, metavar="J", help="the data item the interpolation ends at")
    c.add_argument("--classes", metavar="A,B",
                   help="interpolate between the most different items of these two classes (names or numbers)")
    c.add_argument("--seed", type=int, default=0, metavar="S", help="seeds every family's training (default 0)")
    c.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads for training")
    c.add_argument("--samples", type=positive_int, default=1000, metavar="N",
                   help="samples for the sample-quality metrics of 28x28 grey images (default 1000)")
    c.add_argument("--out", required=True, metavar="DIR", help=f"folder for {SHEET_NAME} and {METRICS_NAME}")
    c.add_argument("--gif", action="store_true",
                   help=f"also write {ANIMATION_NAME}: every family walking the interpolation side by side")
    c.add_argument("--force", action="store_true", help="write into a folder that is not empty")


def _check_out(out: Path, force: bool) -> None:
    """Refuse a destination before training, not after it."""
    if out.exists() and not out.is_dir():
        raise LatentLabError(f"--out '{out}' is a file; give a folder for the sheet and the metrics")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise LatentLabError(f"'{out}' is a folder that is not empty; choose another or pass --force to write into it")


def cmd_compare(args: argparse.Namespace) -> int:
    from latentlab.cli_common import ProgressPrinter, cancel_on_interrupt, load_data
    from latentlab.core import compare as core
    from latentlab.core.training_types import TrainControl

    families = core.parse_families(args.families)   # a typo fails before the data loads
    classes = [t.strip() for t in args.classes.split(",")] if args.classes else None
    if classes is not None and (args.start is not None or args.end is not None):
        raise LatentLabError("give either --classes or --from/--to, not both")
    out = Path(args.out)
    _check_out(out, args.force)
    data = load_data(args)
    core.check_families(families, data)
    pair = core.choose_pair(data, classes, args.start, args.end)
    control = TrainControl()
    printers: dict[str, ProgressPrinter] = {}

    def on_progress(family: str, progress: Any) -> None:
        if family not in printers:
            printers[family] = ProgressPrinter(sys.stderr)
            print(f"training {family} ({len(printers)}/{len(families)})", file=sys.stderr)
        printers[family].update(progress)

    with cancel_on_interrupt(control):
        results = core.compare(data, families, latent_dim=args.latent_dim, epochs=args.epochs, pair=pair,
                               seed=args.seed, threads=args.threads, samples=args.samples,
                               on_progress=on_progress, should_stop=lambda: control.cancelled)
    if not results:
        raise LatentLabError("interrupted before any family finished training; nothing was written")
    out.mkdir(parents=True, exist_ok=True)
    labels = data.labels.numpy() if data.labels is not None else None
    a, b = pair
    core.save_sheet(out / SHEET_NAME, results, labels,
                    caption=f"{data.name}, latent {args.latent_dim}, {args.epochs} epochs; items {a} -> {b}")
    report = core.metrics_report(results, data, pair, latent_dim=args.latent_dim, epochs=args.epochs)
    core.save_metrics(out / METRICS_NAME, report)
    if args.gif:
        core.save_animation(out / ANIMATION_NAME, results, labels)
    if control.cancelled or len(results) < len(families):
        print(f"interrupted: wrote the {len(results)} of {len(families)} families trained so far", file=sys.stderr)
    for r in results:
        print(f"{r.family:<10} interpolation off-data ratio {r.path_ratio:.2f}  ({r.status})")
    print(f"wrote {out / SHEET_NAME}{(', ' + str(out / ANIMATION_NAME)) if args.gif else ''} and {out / METRICS_NAME}")
    return 0


COMMANDS = {"compare": cmd_compare}
