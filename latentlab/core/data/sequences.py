"""Procedural sequence data sets with known factors: pen-stroke digits and waveforms.

``strokes``: handwritten-looking digits 0–9 as pen strokes ``[T, 3]`` (``x, y, pen``; ``y``
grows downwards, ``pen = 1`` while the pen touches the paper). Each digit starts from a
vector glyph of one of several Hershey fonts (the ``hershey-fonts`` package, MIT licence),
resampled once to ``T`` points evenly spaced along its drawn length, with one pen-up point
between strokes. Each item then gets its own slant (shear), scale, rotation and aspect and a
smooth random wobble plus point jitter. Known factors: ``slant``, ``scale``, ``rotation`` and
``jitter`` (the wobble's size).

``waves``: signals ``[T, C]``: a sine blended with a sawtooth or square wave of a given
frequency, phase and amplitude, swinging between 0 and the amplitude (an intensity, not a
zero-mean oscillation: a zero-mean wave's amplitude is the radius of its codes around the
origin, which no linear read-out recovers), plus a little noise; channel ``k`` is the same
wave shifted by a quarter period ``k`` times. Known factors: ``frequency`` (1 to 3 cycles per
window), ``phase`` (radians, up to a quarter turn, for the same reason), ``amplitude`` and
``shape`` (0 pure sine … 1 fully sawtooth or square).

Both are seeded and vectorised: ten thousand items take a fraction of a second once the
glyphs are prepared (the first call resamples 120 glyphs once per ``T``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError

STROKE_FEATURES = ("x", "y", "pen")
STROKE_FACTORS = ("slant", "scale", "rotation", "jitter")
WAVE_FACTORS = ("frequency", "phase", "amplitude", "shape")
DEFAULT_STROKE_STEPS = 64
DEFAULT_WAVE_STEPS = 64
DEFAULT_SEQUENCE_COUNT = 10_000
MIN_STEPS, MAX_STEPS = 16, 4096
MAX_CHANNELS = 16
#: Fonts whose digits look like handwriting or print; the symbol and non-Latin fonts are left out.
STROKE_FONTS = ("futural", "futuram", "cursive", "rowmans", "rowmand", "rowmant",
                "scripts", "scriptc", "timesr", "timesi", "timesrb", "timesib")


def _check_steps(steps: int, what: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise LatentLabError(f"the number of steps of {what} must be {MIN_STEPS} to {MAX_STEPS}, got {steps!r}")
    return steps


# -- glyphs ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=len(STROKE_FONTS))
def _font_digits(font: str) -> tuple[list[np.ndarray], ...]:
    """The strokes of each digit 0–9 in ``font``: lists of ``[K, 2]`` point arrays (font units)."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:  # pragma: no cover - a declared dependency
        raise LatentLabError("the strokes data set needs the 'hershey-fonts' package; "
                             "install it with: pip install hershey-fonts") from None
    fonts = HersheyFonts()
    fonts.load_default_font(font)
    out = []
    for digit in range(10):
        lines: list[np.ndarray] = []
        for stroke in fonts.strokes_for_text(str(digit)):
            line = np.asarray(stroke, dtype=np.float64)
            if len(line) < 2:
                continue
            # A stroke that starts where the last one ended continues it: one pen-down line.
            if lines and np.allclose(lines[-1][-1], line[0]):
                lines[-1] = np.concatenate([lines[-1], line[1:]])
            else:
                lines.append(line)
        out.append(lines)
    return tuple(out)


def _resample(lines: list[np.ndarray], steps: int) -> np.ndarray:
    """Polylines → ``[steps, 3]`` points evenly spaced along the drawn length, pen-up between strokes.

    Each stroke gets points in proportion to its length (at least two); between two strokes one
    extra point, at the next stroke's start with the pen up, keeps them from being joined.
    """
    lengths = np.array([np.linalg.norm(np.diff(line, axis=0), axis=1).sum() for line in lines])
    keep = lengths > 0
    lines, lengths = [line for line, k in zip(lines, keep) if k], lengths[keep]
    budget = steps - (len(lines) - 1)
    if budget < 2 * len(lines):
        raise ValueError("too few steps for this glyph")
    counts = np.maximum(2, np.floor(lengths / lengths.sum() * budget).astype(int))
    while counts.sum() > budget:
        counts[np.argmax(counts)] -= 1
    while counts.sum() < budget:
        counts[np.argmax(lengths / counts)] += 1
    out: list[np.ndarray] = []
    for k, (line, count) in enumerate(zip(lines, counts)):
        seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(seg)])
        at = np.linspace(0.0, along[-1], count)
        pts = np.stack([np.interp(at, along, line[:, 0]), np.interp(at, along, line[:, 1])], axis=1)
        if k:
            out.append(np.array([[pts[0, 0], pts[0, 1], 0.0]]))
        out.append(np.concatenate([pts, np.ones((count, 1))], axis=1))
    return np.concatenate(out)


@functools.lru_cache(maxsize=8)
def glyph_templates(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every font's digits resampled to ``steps`` points: ``([G, steps, 3], digit [G])``.

    Each glyph is centred on its drawn points' bounding box and scaled so its height is 2
    (``y`` from -1 to 1), keeping its aspect.
    """
    templates, digits, seen = [], [], set()
    for font in STROKE_FONTS:
        for digit in range(10):
            lines = _font_digits(font)[digit]
            # Several fonts share their digits: each distinct glyph counts once.
            key = b"".join(line.tobytes() for line in lines)
            if not lines or key in seen:
                continue
            seen.add(key)
            try:
                pts = _resample(lines, steps)
            except ValueError:
                continue  # too many strokes for this few steps: the other fonts draw the digit

            xy = pts[:, :2]
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            xy = (xy - (lo + hi) / 2) / max((hi[1] - lo[1]) / 2, 1e-9)
            templates.append(np.concatenate([xy, pts[:, 2:]], axis=1))
            digits.append(digit)
    missing = sorted(set(range(10)) - set(digits))
    if missing:
        raise LatentLabError(f"{steps} steps are too few to draw the digits {missing}; use more steps")
    return np.stack(templates).astype(np.float32), np.asarray(digits, dtype=np.int64)


def make_strokes(n: int = DEFAULT_SEQUENCE_COUNT, steps: int = DEFAULT_STROKE_STEPS, seed: int = 0) -> Dataset:
    """``n`` pen-stroke digits ``[n, steps, 3]`` with labels 0–9 (balanced) and known factors."""
    steps = _check_steps(steps, "a stroke digit")
    templates, digits = glyph_templates(steps)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    # Pick a glyph of the right digit for each item: one font per item among those drawing it.
    by_digit = [np.flatnonzero(digits == d) for d in range(10)]
    pick = np.empty(n, dtype=np.int64)
    for d in range(10):
        where = np.flatnonzero(labels == d)
        pick[where] = by_digit[d][rng.integers(0, len(by_digit[d]), len(where))]
    base = templates[pick]                                        # [n, T, 3]
    slant = rng.uniform(-0.45, 0.45, n)
    scale = rng.uniform(0.7, 1.3, n)
    rotation = rng.uniform(-0.2, 0.2, n)
    aspect = rng.uniform(0.85, 1.15, n)
    jitter = rng.uniform(0.0, 0.06, n)
    cos, sin = np.cos(rotation), np.sin(rotation)
    # x' = scale * R @ (aspect * x - slant * y, y): y grows downwards, so a positive slant
    # moves the top (negative y) to the right, as forward-leaning handwriting does.
    x, y = base[..., 0] * aspect[:, None], base[..., 1]
    x = x - slant[:, None] * y
    xr, yr = cos[:, None] * x - sin[:, None] * y, sin[:, None] * x + cos[:, None] * y
    xy = np.stack([xr, yr], axis=-1) * scale[:, None, None]
    # A smooth wobble (a few random low-frequency bends) plus a little point noise.
    t = np.linspace(0.0, 1.0, steps)
    freq = np.arange(1, 4)
    coef = rng.normal(size=(n, 2, len(freq))) / freq
    bend = np.einsum("nck,kt->ntc", coef, np.sin(np.pi * freq[:, None] * t[None]))
    xy += jitter[:, None, None] * (bend + 0.3 * rng.normal(size=xy.shape))
    items = np.concatenate([xy, base[..., 2:]], axis=-1).astype(np.float32)
    factors = np.stack([slant, scale, rotation, jitter], axis=1).astype(np.float32)
    return Dataset(
        name="strokes",
        images=torch.from_numpy(items),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=tuple(str(d) for d in range(10)),
        factors=torch.from_numpy(factors),
        factor_names=STROKE_FACTORS,
        source={"kind": "strokes", "n": n, "steps": steps, "seed": seed},
        kind="sequence",
        feature_names=STROKE_FEATURES,
    )


# -- waves -------------------------------------------------------------------------------------
def wave_shapes(cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sine, sawtooth and square of phase ``cycles`` (in turns), each in [-1, 1].

    All three share their fundamental's phase: each rises through (or jumps across) zero at
    phase 0, like the sine. A sawtooth rising from -1 at phase 0 would carry the sine's
    fundamental upside down, and a blend of about 60 % of it would cancel the fundamental,
    so the signal would show about twice its labelled frequency.
    """
    frac = cycles - np.floor(cycles)
    saw = 2.0 * ((frac + 0.5) % 1.0) - 1.0
    return np.sin(2 * np.pi * cycles), saw, np.where(frac < 0.5, 1.0, -1.0)


def make_waves(n: int = DEFAULT_SEQUENCE_COUNT, steps: int = DEFAULT_WAVE_STEPS, channels: int = 1,
               seed: int = 0) -> Dataset:
    """``n`` signals ``[n, steps, channels]``, labelled by their other shape (sawtooth / square)."""
    steps = _check_steps(steps, "a wave")
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise LatentLabError(f"waves have 1 to {MAX_CHANNELS} channels, got {channels!r}")
    rng = np.random.default_rng(seed)
    frequency = rng.uniform(1.0, 3.0, n)          # cycles per window
    phase = rng.uniform(0.0, np.pi / 2, n)
    amplitude = rng.uniform(0.3, 1.0, n)
    shape = rng.uniform(0.0, 1.0, n)              # 0 = pure sine
    other = rng.integers(0, 2, n)                 # 0 sawtooth, 1 square
    t = np.arange(steps) / steps
    shift = np.arange(channels) / 4.0             # a quarter period per channel
    cycles = (frequency[:, None, None] * t[None, :, None] + phase[:, None, None] / (2 * np.pi)
              + shift[None, None, :])
    sine, saw, square = wave_shapes(cycles)
    blend = np.where(other[:, None, None] == 0, saw, square)
    w = shape[:, None, None]
    signal = amplitude[:, None, None] * (1 + (1 - w) * sine + w * blend) / 2
    signal += 0.02 * rng.normal(size=signal.shape)
    factors = np.stack([frequency, phase, amplitude, shape], axis=1).astype(np.float32)
    return Dataset(
        name="waves",
        images=torch.from_numpy(signal.astype(np.float32)),
        labels=torch.from_numpy(other.astype(np.int64)),
        class_names=("sawtooth", "square"),
        factors=torch.from_numpy(factors),
        factor_names=WAVE_FACTORS,
        source={"kind": "waves", "n": n, "steps": steps, "channels": channels, "seed": seed},
        kind="sequence",
        feature_names=tuple(f"ch{k}" for k in range(channels)) if channels > 1 else ("signal",),
    )


def procedural_stream(length: int, channels: int = 3, seed: int = 0, anomalies: int = 0,
                      system: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A long multichannel stream ``[length, channels]`` and a mask ``[length]`` of injected anomalies.

    The normal stream is a sum of two slow sines per channel with channel-specific periods and
    a little noise. ``system`` seeds the periods (the same system gives the same normal
    behaviour, so a model trained on one stream can score another); ``seed`` the start, the noise
    and the anomalies. ``anomalies`` stretches are injected, a third each of spikes (a few
    samples far off), level shifts (an offset over a stretch) and frozen stretches (the value held).
    """
    periods = np.random.default_rng(system).uniform(40, 160, size=(2, channels))
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    phases = rng.uniform(0, 2 * math.pi, size=(2, channels))
    x = (np.sin(2 * math.pi * t[:, None] / periods[0] + phases[0])
         + 0.5 * np.sin(2 * math.pi * t[:, None] / periods[1] + phases[1]))
    x += 0.05 * rng.normal(size=x.shape)
    mask = np.zeros(length, dtype=bool)
    for k in range(anomalies):
        span = int(rng.integers(8, 40))
        start = int(rng.integers(0, max(1, length - span)))
        ch = int(rng.integers(0, channels))
        kind = k % 3
        if kind == 0:
            at = start + rng.integers(0, span, 3)
            x[at, ch] += rng.choice([-1, 1], 3) * rng.uniform(3, 5, 3)
            mask[at] = True
        elif kind == 1:
            x[start:start + span, ch] += rng.choice([-1, 1]) * rng.uniform(1.5, 2.5)
            mask[start:start + span] = True
        else:
            x[start:start + span, ch] = x[start, ch]
            mask[start:start + span] = True
    return x.astype(np.float32), mask
