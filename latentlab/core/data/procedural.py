"""Procedural data sets with known generative factors: ``moons`` and ``shapes``.

Both are drawn with signed distances evaluated once per pixel: coverage is
``clip(0.5 - distance / pixel, 0, 1)``, which antialiases every edge without a
supersampled grid, so 10,000 images take a fraction of a second.

Coordinates: the image spans ``[-0.5, 0.5]`` on both axes, ``x`` to the right and ``y``
*up*, so a positive angle turns a picture counter-clockwise on screen.

Every random number comes from one ``[n, k]`` uniform draw, one row per image, so the
first ``m`` images of a set of ``n`` equal the set of ``m`` with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset

DEFAULT_COUNT = 10_000
DEFAULT_SIZE = 28
# Pixels evaluated per slice: bounds the temporaries for big sizes or counts.
_PIXELS_PER_CHUNK = 1 << 21

MOON_RADIUS = 0.4
MOON_PHASE_NAMES = ("new", "crescent", "half", "gibbous", "full")
# Upper bounds (lit fraction) of the coarse phase classes; "full" takes the rest.
_MOON_PHASE_EDGES = (0.1, 0.4, 0.6, 0.9)
# Faint light on the unlit side ("earthshine") keeps the disc visible at new moon.
_EARTHSHINE = 0.12
# Darker patches ("maria") fixed to the moon: (x, y, sigma, depth) in the moon's frame.
# They make the rotation visible even at full moon.
_MARIA = ((-0.13, 0.10, 0.08, 0.35), (0.10, 0.16, 0.06, 0.30), (0.06, -0.13, 0.07, 0.25))

SHAPE_NAMES = ("square", "ellipse", "heart", "triangle")
SHAPE_FACTOR_NAMES = ("scale", "rotation_cos", "rotation_sin", "x", "y")
_SHAPE_MAX_RADIUS = 0.22
_SHAPE_TRAVEL = 0.24


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``[1, S, S]`` (x right, y up)."""
    c = ((np.arange(size, dtype=np.float32) + 0.5) / size - 0.5).astype(np.float32)
    x = np.broadcast_to(c[None, :], (size, size))
    y = np.broadcast_to(-c[:, None], (size, size))
    return x[None], y[None]


def _coverage(distance: np.ndarray, pixel: float) -> np.ndarray:
    """Antialiased coverage of a signed distance (negative inside)."""
    return np.clip(0.5 - distance / pixel, 0.0, 1.0)


def _box_distance(x: np.ndarray, y: np.ndarray, half: float) -> np.ndarray:
    """Signed distance to an axis-aligned square of half side ``half``."""
    dx, dy = np.abs(x) - half, np.abs(y) - half
    outside = np.hypot(np.maximum(dx, 0.0), np.maximum(dy, 0.0))
    return outside + np.minimum(np.maximum(dx, dy), 0.0)


def _render(count: int, size: int, draw: Callable[[slice], np.ndarray]) -> torch.Tensor:
    """Call ``draw`` on slices of image indices and gather ``[N, 1, S, S]`` float32."""
    out = np.empty((count, size, size), dtype=np.float32)
    step = max(1, _PIXELS_PER_CHUNK // (size * size))
    for start in range(0, count, step):
        part = slice(start, min(count, start + step))
        out[part] = draw(part)
    return torch.from_numpy(out).unsqueeze(1)


# ---------------------------------------------------------------------------- moons


def make_moons(n: int = DEFAULT_COUNT, size: int = DEFAULT_SIZE, seed: int = 0) -> Dataset:
    """Images of a moon whose phase and rotation vary.

    The lit part is the disc minus the shadow beyond the terminator, which is half an
    ellipse whose width follows the phase (as seen on the real moon); the unlit part
    keeps a faint glow and a few fixed dark patches turn with the moon.

    Factors
    -------
    ``phase``: lit fraction of the disc in ``[0, 1]`` (0 new, 0.5 half, 1 full).
    ``rotation_cos``, ``rotation_sin``: the direction the lit side faces
    (``cos = 1``: right, ``sin = 1``: up). Angles wrap at 360 degrees, so a linear fit
    from latents to an angle is meaningless; a linear fit to its cosine and sine is not.

    Labels are coarse phase classes: new, crescent, half, gibbous, full.
    """
    draws = np.random.default_rng(seed).random((n, 2))
    phase = draws[:, 0].astype(np.float32)
    angle = (2.0 * math.pi * draws[:, 1]).astype(np.float32)
    gx, gy = _grid(size)
    pixel = 1.0 / size
    r2 = MOON_RADIUS * MOON_RADIUS

    def draw(part: slice) -> np.ndarray:
        c, s = np.cos(angle[part])[:, None, None], np.sin(angle[part])[:, None, None]
        # Into the moon's own frame, where the sun shines from +x.
        mx, my = c * gx + s * gy, -s * gx + c * gy
        disc = np.hypot(mx, my) - MOON_RADIUS
        # Terminator x = t * sqrt(R^2 - y^2) with t from 1 (new) through 0 (half) to -1 (full);
        # its implicit value divided by its gradient length approximates a distance.
        t = (1.0 - 2.0 * phase[part])[:, None, None]
        half_chord = np.sqrt(np.maximum(r2 - my * my, 1e-6))
        slope = t * my / half_chord
        terminator = (mx - t * half_chord) / np.sqrt(1.0 + slope * slope)
        lit = _coverage(np.maximum(disc, -terminator), pixel)
        disc_cover = _coverage(disc, pixel)
        # Mild limb darkening: a sphere looks a little dimmer at its edge.
        mu = np.sqrt(np.clip(1.0 - (mx * mx + my * my) / r2, 0.0, 1.0))
        albedo = np.ones_like(mx)
        for px, py, sigma, depth in _MARIA:
            albedo -= depth * np.exp(-((mx - px) ** 2 + (my - py) ** 2) / (2 * sigma * sigma))
        light = _EARTHSHINE * disc_cover + (1.0 - _EARTHSHINE) * lit * (0.8 + 0.2 * mu)
        return np.clip(albedo * light, 0.0, 1.0)

    labels = np.digitize(phase, _MOON_PHASE_EDGES)
    factors = np.stack([phase, np.cos(angle), np.sin(angle)], axis=1)
    return Dataset(
        name="moons",
        images=_render(n, size, draw),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=MOON_PHASE_NAMES,
        factors=torch.from_numpy(factors.astype(np.float32)),
        factor_names=("phase", "rotation_cos", "rotation_sin"),
        source={"kind": "moons", "n": n, "size": size, "seed": seed},
    )


# ---------------------------------------------------------------------------- shapes
# Distances below are in units of the shape's radius, in its own (unrotated) frame.


def _square(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _box_distance(x, y, 0.75)


def _ellipse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, b = 1.0, 0.55
    k = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    grad = np.sqrt((x / (a * a)) ** 2 + (y / (b * b)) ** 2)
    # (k - 1) / |grad k| with |grad k| = grad / k: a first-order distance to the rim.
    return np.where(grad > 1e-9, k * (k - 1.0) / np.maximum(grad, 1e-9), -b)


def _triangle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Equilateral, apex up, circumradius 1.15: the largest distance past its three edges.
    inradius = 0.575
    d = -y - inradius
    for deg in (30.0, 150.0):
        nx, ny = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        d = np.maximum(d, nx * x + ny * y - inradius)
    return d


# Heart: a square turned 45 degrees with a disc on each of its two upper edges.
_HEART_D = 0.85  # half diagonal of the turned square
_HEART_R = _HEART_D / math.sqrt(2.0)  # disc radius = half the square's side
# Shift down so the shape's bounding box is centred.
_HEART_SHIFT = (_HEART_D / 2.0 + _HEART_R - _HEART_D) / 2.0


def _heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    y = y + _HEART_SHIFT
    u, v = (x + y) / math.sqrt(2.0), (y - x) / math.sqrt(2.0)
    d = _box_distance(u, v, _HEART_R)
    for cx in (-_HEART_D / 2.0, _HEART_D / 2.0):
        d = np.minimum(d, np.hypot(x - cx, y - _HEART_D / 2.0) - _HEART_R)
    return d


_SHAPE_DISTANCES = (_square, _ellipse, _heart, _triangle)


def make_shapes(n: int = DEFAULT_COUNT, size: int = DEFAULT_SIZE, seed: int = 0) -> Dataset:
    """dSprites-like images: one white shape on black whose shape, scale, angle and place vary.

    Labels are the shape (square, ellipse, heart, triangle).

    Factors
    -------
    ``scale`` in ``[0.5, 1]``; ``rotation_cos``, ``rotation_sin`` of the angle (drawn
    over the full circle; note a square looks the same every 90 degrees, a triangle
    every 120, an ellipse every 180, so only the heart shows the whole angle);
    ``x`` in ``[0, 1]`` from left to right and ``y`` in ``[0, 1]`` from top to bottom.
    """
    draws = np.random.default_rng(seed).random((n, 5))
    kind = np.minimum((draws[:, 0] * len(SHAPE_NAMES)).astype(np.int64), len(SHAPE_NAMES) - 1)
    scale = (0.5 + 0.5 * draws[:, 1]).astype(np.float32)
    angle = (2.0 * math.pi * draws[:, 2]).astype(np.float32)
    fx, fy = draws[:, 3].astype(np.float32), draws[:, 4].astype(np.float32)
    radius = _SHAPE_MAX_RADIUS * scale
    cx = -_SHAPE_TRAVEL + 2.0 * _SHAPE_TRAVEL * fx
    cy = _SHAPE_TRAVEL - 2.0 * _SHAPE_TRAVEL * fy
    gx, gy = _grid(size)
    pixel = 1.0 / size

    def draw(part: slice) -> np.ndarray:
        out = np.empty((part.stop - part.start, size, size), dtype=np.float32)
        for k, distance in enumerate(_SHAPE_DISTANCES):
            rows = np.nonzero(kind[part] == k)[0]
            if rows.size == 0:
                continue
            idx = rows + part.start
            c, s = np.cos(angle[idx])[:, None, None], np.sin(angle[idx])[:, None, None]
            r = radius[idx][:, None, None]
            dx, dy = gx - cx[idx][:, None, None], gy - cy[idx][:, None, None]
            lx, ly = (c * dx + s * dy) / r, (-s * dx + c * dy) / r
            out[rows] = _coverage(distance(lx, ly) * r, pixel)
        return out

    factors = np.stack([scale, np.cos(angle), np.sin(angle), fx, fy], axis=1)
    return Dataset(
        name="shapes",
        images=_render(n, size, draw),
        labels=torch.from_numpy(kind),
        class_names=SHAPE_NAMES,
        factors=torch.from_numpy(factors.astype(np.float32)),
        factor_names=SHAPE_FACTOR_NAMES,
        source={"kind": "shapes", "n": n, "size": size, "seed": seed},
    )
