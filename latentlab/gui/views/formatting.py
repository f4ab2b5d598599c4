"""Short human-readable text for durations, rates, learning rates and training progress.

Qt-free and torch-free on purpose: the training panel formats every progress report
with these, and they are easy to test on their own.
"""

from __future__ import annotations

import math

UNKNOWN = "—"

_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def is_number(value: object) -> bool:
    """True for a finite int or float (not a bool): a value safe to show or plot."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_duration(seconds: float) -> str:
    """A duration as ``m:ss`` or ``h:mm:ss`` (``"—"`` when unknown, negative or infinite).

    Examples
    --------
    >>> format_duration(12), format_duration(3723)
    ('0:12', '1:02:03')
    """
    if not is_number(seconds) or seconds < 0:
        return UNKNOWN
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_compact(value: float) -> str:
    """A number with three significant digits and an SI suffix: ``18234 -> "18.2k"``.

    Values below 1000 keep up to three significant digits without a suffix; unknown
    values give ``"—"``.
    """
    if not is_number(value):
        return UNKNOWN
    magnitude = abs(value)
    for scale, suffix in _SI_PREFIXES:
        # Compare after rounding so 999_950 reads "1M", not "1000k".
        if float(f"{magnitude:.3g}") >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_learning_rate(value: float) -> str:
    """A learning rate the way people type it: ``0.001 -> "1e-3"``, ``0.05 -> "0.05"``."""
    if not is_number(value):
        return UNKNOWN
    if value != 0 and abs(value) < 0.01:
        # "%g" writes 0.005 as "0.005"; force the scientific form to get a mantissa.
        mantissa, exponent = f"{value:.5e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.6g}"


#: The training precisions in words (the progress text names any but float32).
PRECISION_WORDS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def format_progress(epoch: int, epochs: int, fraction: float, eta_s: float, images_per_s: float,
                    precision: str = "fp32") -> str:
    """The progress bar's text: ``"Epoch 3/20 · 41% · ETA 0:12 · 18.2k img/s"``.

    ``fraction`` covers the whole run (0..1) and is floored, so 100% means done. A run in a
    lower precision says so last (``"· bfloat16"``).
    """
    fraction = min(max(fraction, 0.0), 1.0) if is_number(fraction) else 0.0
    percent = int(math.floor(fraction * 100 + 1e-9))
    parts = [f"Epoch {epoch}/{epochs}", f"{percent}%", f"ETA {format_duration(eta_s)}"]
    if is_number(images_per_s) and images_per_s > 0:
        parts.append(f"{format_compact(images_per_s)} img/s")
    if precision != "fp32" and precision in PRECISION_WORDS:
        parts.append(PRECISION_WORDS[precision])
    return " · ".join(parts)


def format_loss(value: float) -> str:
    """A loss value with four significant digits (``"—"`` when not finite)."""
    if not is_number(value):
        return UNKNOWN
    return f"{value:.4g}"
