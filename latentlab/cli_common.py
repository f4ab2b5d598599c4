"""What the command line's modules share: argument types, the data options, progress and
downloads, Ctrl+C.

:mod:`latentlab.cli` builds the parser and runs ``train``, ``evaluate``, ``info`` and ``score``;
:mod:`latentlab.cli_uses`, :mod:`latentlab.cli_compare` and :mod:`latentlab.cli_export` add
their commands to it. All of them take these pieces from here, so none imports another's
helpers back (no import circle). Imports no Qt.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from latentlab.core.errors import LatentLabError


# -- argument types and options --------------------------------------------------------------

def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_data_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--data", required=required, metavar="SOURCE",
                   help="mnist (bundled), moons, shapes, strokes (pen-stroke digits), waves (signals), "
                        "or a path: an image folder, an IDX images file (.gz or raw), a .npz/.npy array, "
                        "or a .csv series (header row, one column per channel) cut into windows")
    p.add_argument("--image-size", type=positive_int, metavar="PX",
                   help="resize images to PX x PX (image folders and procedural sets)")
    p.add_argument("--color", choices=("auto", "gray", "rgb"), default="auto",
                   help="colour mode for image folders (default: auto)")
    p.add_argument("--limit", type=positive_int, metavar="N", help="use only the first N items")
    p.add_argument("--window", type=positive_int, metavar="T",
                   help="steps per window of a .csv series (default 64), or per item of strokes / waves")
    p.add_argument("--stride", type=positive_int, metavar="S",
                   help="steps between window starts of a .csv series (default 16)")
    p.add_argument("--sequences", action="store_true",
                   help="read a .npy/.npz array as sequences [N, T, F] instead of images")


# -- progress --------------------------------------------------------------------------------

class ProgressPrinter:
    """A one-line progress bar on a terminal; one plain line per epoch when piped."""

    def __init__(self, stream: TextIO, first_epoch: int = 1) -> None:
        self.stream = stream
        # A continued run numbers its epochs after the model's earlier ones.
        self.offset = first_epoch - 1
        self.tty = stream.isatty()
        self._last = 0.0

    def update(self, p: Any) -> None:
        main, first = _main_term(p.terms)
        if p.epoch_done:
            if self.tty:
                self.stream.write("\r\033[K")
            terms = "  ".join(f"{name} {value:.2f}" for name, value in p.terms.items())
            val = f"  val {p.val.get(main, float('nan')):.2f}" if p.val else ""
            self.stream.write(f"epoch {p.epoch + self.offset}/{p.epochs + self.offset}  {terms}"
                              f"{val}  {p.images_per_s:,.0f} img/s\n")
            self.stream.flush()
        elif self.tty and time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            done = (p.epoch - 1 + min(1.0, (p.step % max(1, p.steps_per_epoch)) / max(1, p.steps_per_epoch)))
            frac = done / max(1, p.epochs)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r[{bar:<30}] epoch {p.epoch + self.offset}/{p.epochs + self.offset}  {main} "
                              f"{first:.2f}  ETA {_fmt_eta(p.eta_s)}")
            self.stream.flush()


def _main_term(terms: dict[str, float]) -> tuple[str, float]:
    """The family's main loss: the first term it reports."""
    for name, value in terms.items():
        return name, value
    return "loss", float("nan")


def _fmt_eta(seconds: float) -> str:
    if not seconds == seconds or seconds < 0:
        return "?"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m}:{s:02d}"


class DownloadBar:
    """A progress bar on stderr for a standard data set's download (one line per file when piped)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._shown = -1
        self._name = ""

    def __call__(self, name: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if name != self._name:
            self._name, self._shown = name, -1
            if not self.tty:
                self.stream.write(f"downloading {name} ({total / 1e6:.1f} MB)\n")
        if self.tty and percent != self._shown:
            self._shown = percent
            bar = "#" * (percent * 30 // 100)
            end = "\n" if done >= total else ""
            self.stream.write(f"\r[{bar:<30}] {percent:3d}%  {name}  {done / 1e6:.1f}/{total / 1e6:.1f} MB{end}")
        self.stream.flush()


def prefetch(spec: Any) -> None:
    """Download a standard data set named by ``spec`` (or in its ref) with a progress bar first."""
    from latentlab.core.data import downloads

    if not isinstance(spec, str):
        return
    name = spec.strip().lower()
    name = name.rpartition(":")[0] if name.rpartition(":")[2].isdigit() else name
    if name in downloads.NAMES and not downloads.is_cached(name):
        downloads.ensure(name, progress=DownloadBar())


# -- data and Ctrl+C ---------------------------------------------------------------------------

def load_data(args: argparse.Namespace):
    from latentlab.core.data import load_dataset

    prefetch(args.data)  # a standard data set downloads first, with a progress bar
    return load_dataset(args.data, image_size=args.image_size, color=args.color, limit=args.limit,
                        window=args.window, stride=args.stride, sequences=args.sequences)


def section(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a dict, else empty: a hand-edited config.json may hold anything."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def validation_data(meta: dict[str, Any], args: argparse.Namespace):
    """The data to evaluate on: --data as given, else the validation split recorded in the model."""
    from latentlab.core.data import load_dataset

    if args.data:
        return load_data(args)
    info = section(meta, "data")
    if not info.get("source"):
        raise LatentLabError("this model does not record its data set; pass --data")
    data = load_dataset(info["source"])
    if info.get("fingerprint") and data.fingerprint != info["fingerprint"]:
        print("warning: the data set differs from the one the model was trained on", file=sys.stderr)
    # A model saved without training settings records null here: use the reference split.
    fraction = 0.2 if info.get("val_fraction") is None else info["val_fraction"]
    seed = 0 if info.get("seed") is None else info["seed"]
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or isinstance(seed, bool) or not isinstance(seed, int):
        raise LatentLabError(f"{args.model}: the recorded validation split is not valid; pass --data")
    _, val_idx = data.split(fraction, seed)
    return data.subset(val_idx)


@contextmanager
def cancel_on_interrupt(control: Any) -> Iterator[None]:
    """While training, a first Ctrl+C asks the trainer to stop (what was trained is saved).

    A KeyboardInterrupt raised inside the training generator would end it without a
    result, so the signal only sets the cancel flag; a second Ctrl+C aborts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed on the main thread
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        if control.cancelled:
            raise KeyboardInterrupt
        control.cancel()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
