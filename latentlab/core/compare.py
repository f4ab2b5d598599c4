"""Families side by side on the same data: train several, interpolate, score and draw one sheet.

The story told about variational autoencoders — PCA, then an autoencoder, then a VAE; the
autoencoder leaves holes between its codes that decode to nonsense and the VAE's noise fills
them — made measurable. Every family is trained on the same data with the same latent size;
for each one this module computes

* the codes of every item and their plane coordinates (:func:`plane_xy`);
* an interpolation between the same two data items (:func:`choose_pair`: the most different
  pair of two classes, e.g. a full and a half moon, or two items a person names), decoded
  into a strip;
* the mean off-manifold distance ratio of the path's codes (:mod:`latentlab.core.offmanifold`):
  how far the path strays from the encoded data, relative to its local spacing;
* what ``latentlab evaluate`` reports on the validation split (:func:`metrics.evaluate`).

:func:`render_sheet` draws one column per family (its plane, codes coloured by class, the
path over it, and the strip underneath) with Pillow; :func:`save_sheet` and
:func:`save_metrics` write atomically. :func:`compare` runs it all, one family after another,
with progress and cancel callbacks. The CLI (``latentlab compare``) and the window's
Compare Families view both call these functions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentlab.core.data import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry

__all__ = [
    "DEFAULT_FAMILIES", "MAX_FAMILIES", "FamilyResult", "check_families", "choose_pair", "compare",
    "family_result", "inside_polygon", "lift", "parse_families", "plane_xy", "project", "render_frames", "render_sheet",
    "save_animation", "save_metrics", "save_sheet",
    "training_settings",
]

#: The families compared when a person names none: the story's order.
DEFAULT_FAMILIES = ("pca", "ae", "vae", "beta-vae")
#: At most this many families side by side (a sheet and a window stay readable).
MAX_FAMILIES = 4
#: Decoded frames of an interpolation strip, and the steps its distance ratio is averaged over.
STRIP_STEPS = 8
SCORE_STEPS = 32
#: The two classes a data set's story interpolates between, by data-set name.
STORY_CLASSES = {"moons": ("full", "half")}
#: Items per class searched for the most different pair (a seeded sample beyond it).
PAIR_SAMPLE = 2000
#: Points drawn per plane on a sheet (a seeded sample beyond it).
SHEET_POINTS = 3000
#: Label colours (Tableau 10), repeated for more classes; unlabelled points are grey.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
_GREY = (120, 120, 120)


@dataclass
class FamilyResult:
    """One family's part of a comparison (arrays are numpy, on the CPU)."""

    family: str
    title: str
    codes: np.ndarray                 # [N, D] latent means of every data item
    xy: np.ndarray                    # [N, 2] their plane coordinates
    path_xy: np.ndarray               # [STRIP_STEPS, 2] the interpolation on the plane
    strip: np.ndarray                 # [STRIP_STEPS, C, H, W] float images in [0, 1]
    path_ratio: float                 # mean off-manifold distance ratio along the path
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "finished"


# -- choices ---------------------------------------------------------------------------------

def parse_families(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"pca,ae,vae"`` (or a list) as checked family names; see :func:`check_families`."""
    names = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t).strip() for t in text]
    return check_families([n for n in names if n])


def check_families(names: Sequence[str], data: Dataset | None = None) -> tuple[str, ...]:
    """The names, checked: known, distinct, 1 to :data:`MAX_FAMILIES`, able to take part.

    A family takes part when it encodes data without a label (a conditional family needs a
    class to decode, which a shared path between two items does not have) and, with ``data``,
    when it makes the kind of output the data holds.
    """
    if not names:
        raise LatentLabError(f"name at least one family to compare (e.g. {','.join(DEFAULT_FAMILIES)})")
    if len(names) > MAX_FAMILIES:
        raise LatentLabError(f"compare takes at most {MAX_FAMILIES} families side by side, got {len(names)}")
    seen: set[str] = set()
    for name in names:
        family = registry.get(name)   # an unknown name lists the known ones
        if name in seen:
            raise LatentLabError(f"family '{name}' is named twice")
        seen.add(name)
        caps = family.capabilities
        if caps.conditional:
            raise LatentLabError(f"{name} ({family.title}) decodes under a class label, so it cannot share "
                                 "one interpolation with the others; leave it out of the comparison")
        if not caps.encoder:
            raise LatentLabError(f"{name} ({family.title}) has no encoder to place the data on its plane; "
                                 "compare families with an encoder")
        if data is not None and caps.output != data.kind:
            raise LatentLabError(f"{name} ({family.title}) makes {caps.output}s, but data set "
                                 f"'{data.name}' holds {data.kind}s")
    return tuple(names)


def training_settings(family: str, latent_dim: int, epochs: int, *, seed: int = 0,
                      threads: int | None = None, batch_size: int = 128) -> Any:
    """The :class:`TrainingSettings` of one family in a comparison (its own defaults otherwise)."""
    from latentlab.core.training_settings import TrainingSettings

    fam = registry.get(family)
    arch = "mlp" if "mlp" in fam.archs else fam.archs[0]
    likelihood = "bernoulli" if "bernoulli" in fam.likelihoods else fam.likelihoods[0]
    return TrainingSettings(family=family, arch=arch, likelihood=likelihood, latent_dim=latent_dim,
                            epochs=epochs, seed=seed, threads=threads, batch_size=batch_size,
                            kl_warmup_epochs=int(fam.default("kl_warmup_epochs", 0) or 0))


def _class_index(data: Dataset, text: str | int) -> int:
    names = list(data.class_names)
    if isinstance(text, str) and text in names:
        return names.index(text)
    try:
        k = int(text)
    except (TypeError, ValueError):
        raise LatentLabError(f"data set '{data.name}' has no class '{text}' (classes: {', '.join(names)})") from None
    if not 0 <= k < max(len(names), 1):
        raise LatentLabError(f"class {k} does not exist in data set '{data.name}' ({len(names)} classes)")
    return k


def _flat(data: Dataset, idx: np.ndarray) -> np.ndarray:
    return data.images[torch.from_numpy(idx)].reshape(len(idx), -1).numpy().astype(np.float64)


def _most_different(data: Dataset, a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The pair (one of ``a``, one of ``b``) whose items differ most (squared distance)."""
    rng = np.random.default_rng(0)
    a = a if len(a) <= PAIR_SAMPLE else np.sort(rng.choice(a, PAIR_SAMPLE, replace=False))
    b = b if len(b) <= PAIR_SAMPLE else np.sort(rng.choice(b, PAIR_SAMPLE, replace=False))
    fa, fb = _flat(data, a), _flat(data, b)
    d2 = (fa * fa).sum(1)[:, None] + (fb * fb).sum(1)[None, :] - 2.0 * fa @ fb.T
    if a is b or np.array_equal(a, b):
        np.fill_diagonal(d2, -np.inf)
    i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
    return int(a[i]), int(b[j])


def choose_pair(data: Dataset, classes: Sequence[str | int] | None = None,
                start: int | None = None, end: int | None = None) -> tuple[int, int]:
    """The two data items an interpolation joins.

    ``start`` and ``end`` (item indices) win when given (both of them). Otherwise the most
    different pair of two classes: ``classes`` (names or numbers), else the data set's story
    (:data:`STORY_CLASSES`: a full and a half moon), else its first and last class; data
    without labels takes the most different pair of all its items.
    """
    n = len(data)
    if (start is None) != (end is None):
        raise LatentLabError("give both ends of the interpolation (--from I --to J), or neither")
    if start is not None and end is not None:
        for name, k in (("--from", start), ("--to", end)):
            if not 0 <= int(k) < n:
                raise LatentLabError(f"{name} {k} is not an item of data set '{data.name}' (0 to {n - 1})")
        if int(start) == int(end):
            raise LatentLabError("an interpolation needs two different items (--from and --to are the same)")
        return int(start), int(end)
    if n < 2:
        raise LatentLabError(f"data set '{data.name}' has fewer than 2 items to interpolate between")
    if data.labels is None:
        if classes:
            raise LatentLabError(f"data set '{data.name}' has no labels, so no classes to choose between")
        return _most_different(data, np.arange(n), np.arange(n))
    labels = data.labels.numpy()
    if classes:
        if len(classes) != 2:
            raise LatentLabError(f"name two classes to interpolate between, got {len(classes)}")
        ka, kb = (_class_index(data, c) for c in classes)
    else:
        story = STORY_CLASSES.get(data.name)
        if story is not None and all(c in data.class_names for c in story):
            ka, kb = (data.class_names.index(c) for c in story)
        else:
            present = np.unique(labels)
            ka, kb = int(present[0]), int(present[-1])
    a, b = np.flatnonzero(labels == ka), np.flatnonzero(labels == kb)
    if len(a) == 0 or len(b) == 0 or (ka == kb and len(a) < 2):
        raise LatentLabError(f"data set '{data.name}' has too few items of the classes chosen to interpolate")
    return _most_different(data, a, b)


# -- one family ------------------------------------------------------------------------------

def plane_xy(codes: np.ndarray) -> tuple[np.ndarray, Any]:
    """Plane coordinates ``[N, 2]`` of codes and the :class:`latent_plane.Plane` that made them.

    The plane of :func:`latent_plane.pca_plane`: a 2-D latent is its own plane, a 1-D one
    an axis through the mean with a zero y, a larger one its two main directions of spread.
    """
    from latentlab.core.latent_plane import pca_plane

    codes = np.asarray(codes, dtype=np.float32)
    plane = pca_plane(torch.from_numpy(codes))
    return project(plane, codes), plane


def project(plane: Any, codes: np.ndarray) -> np.ndarray:
    """Plane coordinates ``[M, 2]`` of codes ``[M, D]`` on ``plane``."""
    origin, basis = plane.origin.numpy(), plane.basis.numpy()
    return ((np.asarray(codes, np.float32) - origin) @ basis.T).astype(np.float32)


def lift(plane: Any, xy: np.ndarray) -> np.ndarray:
    """Codes ``[M, D]`` of plane points ``[M, 2]`` (the point of the latent space on the plane)."""
    origin, basis = plane.origin.numpy(), plane.basis.numpy()
    return (origin[None] + np.asarray(xy, np.float32) @ basis).astype(np.float32)


def inside_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points ``xy`` ``[N, 2]`` lie inside ``polygon`` ``[M, 2]`` (a lasso): a bool mask ``[N]``.

    The even–odd rule (a point is inside when a ray from it crosses the outline an odd number
    of times), so a lasso that crosses itself leaves its overlaps out; the outline closes
    from its last corner back to its first. A polygon of fewer than three corners holds
    nothing; points that are not finite are never inside.
    """
    xy = np.asarray(xy, np.float64)
    poly = np.asarray(polygon, np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or poly.ndim != 2 or poly.shape[1] != 2:
        raise LatentLabError(f"points and lasso must be [N, 2] arrays, got {xy.shape} and {poly.shape}")
    poly = poly[np.isfinite(poly).all(axis=1)]
    mask = np.zeros(len(xy), dtype=bool)
    if len(poly) < 3:
        return mask
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(np.isfinite(xy).all(axis=1) & (xy >= lo).all(axis=1) & (xy <= hi).all(axis=1))
    x, y = xy[near, 0][None, :], xy[near, 1][None, :]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    flat = y0 == y1   # a level edge is never crossed by a level ray
    x0, y0, x1, y1 = x0[~flat], y0[~flat], x1[~flat], y1[~flat]
    odd = np.zeros(len(near), dtype=bool)
    step = max(1, 2_000_000 // max(len(near), 1))   # edges per block: a bounded [E, N] at a time
    for s in range(0, len(x0), step):
        ex0, ey0 = x0[s:s + step, None], y0[s:s + step, None]
        ex1, ey1 = x1[s:s + step, None], y1[s:s + step, None]
        spans = (ey0 > y) != (ey1 > y)
        at = ex0 + (y - ey0) * (ex1 - ex0) / (ey1 - ey0)
        odd ^= np.logical_xor.reduce(spans & (x < at), axis=0)
    mask[near] = odd
    return mask


def path_codes(za: np.ndarray, zb: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes evenly along the straight line from ``za`` to ``zb`` (ends included)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1.0 - t) * np.asarray(za, np.float64)[None] + t * np.asarray(zb, np.float64)[None]).astype(np.float32)


def family_result(model: Any, data: Dataset, pair: tuple[int, int], *,
                  metrics: dict[str, Any] | None = None, status: str = "finished",
                  should_stop: Callable[[], bool] | None = None) -> FamilyResult | None:
    """Codes, plane, interpolation strip and path score of a trained ``model`` on ``data``.

    None when ``should_stop()`` said so while the data was being encoded.
    """
    from latentlab.core import render
    from latentlab.core.inference import decode, encode_dataset_posterior
    from latentlab.core.offmanifold import ManifoldMap

    found = encode_dataset_posterior(model, data, should_stop=should_stop)
    if found is None:
        return None
    codes, logvar = found
    a, b = pair
    mmap = ManifoldMap(codes, logvar)
    ratios = mmap.ratios(path_codes(codes[a], codes[b], SCORE_STEPS))
    finite = ratios[np.isfinite(ratios)]
    strip_codes = path_codes(codes[a], codes[b], STRIP_STEPS)
    outputs = decode(model, strip_codes)
    spec = render.output_spec(model.config)
    strip = outputs.numpy() if spec.kind == "image" else render.as_images(outputs, spec, 64).numpy()
    xy, plane = plane_xy(codes)
    family = registry.get(model.config.family)
    return FamilyResult(family=family.name, title=family.title, codes=codes, xy=xy,
                        path_xy=project(plane, strip_codes), strip=np.asarray(strip, dtype=np.float32),
                        path_ratio=float(finite.mean()) if finite.size else float("inf"),
                        metrics=dict(metrics or {}), status=status)


def evaluate_metrics(model: Any, data: Dataset, val_fraction: float, seed: int,
                     samples: int = 1000) -> dict[str, Any]:
    """What ``latentlab evaluate`` reports for ``model``, on the validation split of ``data``."""
    from latentlab.core.metrics import evaluate

    if len(data) >= 2 and val_fraction > 0:
        _, val_idx = data.split(val_fraction, seed)
        val = data.subset(val_idx)
    else:
        val = data
    return evaluate(model, val, sample_quality=True, samples=max(2, min(samples, len(val))))


# -- the whole comparison --------------------------------------------------------------------

def compare(data: Dataset, families: Sequence[str], *, latent_dim: int = 2, epochs: int = 10,
            pair: tuple[int, int] | None = None, seed: int = 0, threads: int | None = None,
            samples: int = 1000,
            on_progress: Callable[[str, Any], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> list[FamilyResult]:
    """Train each family on ``data`` one after another and compare them (see the module).

    ``on_progress(family, progress)`` hears every training report; ``should_stop()`` ends the
    run between steps: the family in training comes back with status ``"cancelled"`` and the
    ones after it are not trained.
    """
    from latentlab.core.plan import plan_training
    from latentlab.core.training import TrainControl, train

    names = check_families(families, data)
    if latent_dim < 1:
        raise LatentLabError(f"the latent size must be at least 1, got {latent_dim}")
    if epochs < 1:
        raise LatentLabError(f"epochs must be at least 1, got {epochs}")
    pair = pair if pair is not None else choose_pair(data)
    results: list[FamilyResult] = []
    for name in names:
        if should_stop is not None and should_stop():
            break
        plan = plan_training(training_settings(name, latent_dim, epochs, seed=seed, threads=threads), data=data)
        control = TrainControl()
        gen = train(plan.model_config, plan.data, plan.train_config, control=control, initial=plan.initial)
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            if should_stop is not None and should_stop():
                control.cancel()
            if on_progress is not None and hasattr(item, "epoch_done"):
                on_progress(name, item)
        model = result.model
        model.eval()
        tc = plan.train_config
        metrics = evaluate_metrics(model, plan.data, tc.val_fraction, tc.seed, samples)
        found = family_result(model, plan.data, pair, metrics=metrics, status=result.status)
        assert found is not None  # no stop callback while encoding
        found.metrics["interpolation_mean_ratio"] = found.path_ratio
        results.append(found)
        if result.status != "finished":
            break
    return results


# -- the sheet -------------------------------------------------------------------------------

def _view(xy: np.ndarray) -> tuple[float, float, float, float]:
    """A square view (x0, x1, y0, y1) over the middle 98% of the points, with a margin."""
    finite = xy[np.isfinite(xy).all(axis=1)]
    if not len(finite):
        return -1.0, 1.0, -1.0, 1.0
    lo, hi = np.percentile(finite, 1, axis=0), np.percentile(finite, 99, axis=0)
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2, 1e-3) * 1.15
    return float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half)


def _frame_pixels(image: np.ndarray, size: int) -> Image.Image:
    """One ``[C, H, W]`` float image as an RGB picture ``size`` pixels square."""
    from latentlab.core.render import to_uint8

    px = to_uint8(image[None])[0]
    px = np.transpose(px, (1, 2, 0)) if px.ndim == 3 else px
    if px.ndim == 3 and px.shape[2] == 1:
        px = px[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(px)).convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def _draw_plane(sheet: Image.Image, r: FamilyResult, labels: np.ndarray | None, x_left: int, y_top: int,
                panel: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Draw family ``r``'s plane (codes by class, the path, its ends) in a ``panel`` square.

    Returns the mapping from plane coordinates ``[M, 2]`` to picture pixels.
    """
    draw = ImageDraw.Draw(sheet)
    x0, x1, y0, y1 = _view(np.concatenate([r.xy, r.path_xy]))

    def to_px(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # y grows upwards on the plane and downwards on the picture.
        return (x_left + (p[:, 0] - x0) / (x1 - x0) * (panel - 1),
                y_top + (1 - (p[:, 1] - y0) / (y1 - y0)) * (panel - 1))

    draw.rectangle((x_left, y_top, x_left + panel - 1, y_top + panel - 1), fill=(248, 248, 248),
                   outline=(200, 200, 200))
    keep = np.arange(len(r.xy))
    if len(keep) > SHEET_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(keep, SHEET_POINTS, replace=False))
    px, py = to_px(r.xy[keep])
    inside = (px >= x_left) & (px < x_left + panel) & (py >= y_top) & (py < y_top + panel)
    for k in np.flatnonzero(inside):
        lab = labels[keep[k]] if labels is not None else None
        colour = PALETTE[int(lab) % len(PALETTE)] if lab is not None and lab >= 0 else _GREY
        draw.ellipse((px[k] - 1.5, py[k] - 1.5, px[k] + 1.5, py[k] + 1.5), fill=colour)
    qx, qy = to_px(r.path_xy)
    draw.line(list(zip(qx.tolist(), qy.tolist())), fill=(0, 0, 0), width=2)
    for k in (0, len(qx) - 1):
        draw.ellipse((qx[k] - 4, qy[k] - 4, qx[k] + 4, qy[k] + 4), outline=(0, 0, 0), fill=(255, 255, 255), width=2)
    return to_px


def _title(r: FamilyResult) -> str:
    # Pillow's built-in font has no Greek letters: "β-VAE" is written "beta-VAE".
    return r.title.replace("β", "beta") + ("" if r.status == "finished" else f" ({r.status})")


def _check_drawable(results: Sequence[FamilyResult], panel: int) -> None:
    if not results:
        raise LatentLabError("there is nothing to draw: no family finished training")
    if not 128 <= panel <= 1024:
        raise LatentLabError(f"a sheet panel is 128 to 1024 pixels wide, got {panel}")


def render_sheet(results: Sequence[FamilyResult], labels: np.ndarray | None = None, *,
                 panel: int = 320, caption: str = "") -> np.ndarray:
    """The comparison as one picture ``[H, W, 3]`` uint8.

    One column per family: its title and path score, its plane (codes coloured by
    ``labels``, the interpolation path in black with its ends marked) and, underneath, the
    strip decoded along that path, wrapped to the column's width.
    """
    _check_drawable(results, panel)
    steps = max(len(r.strip) for r in results)
    per_row = min(steps, 8)
    cell = panel // per_row
    strip_rows = math.ceil(steps / per_row)
    head, gap, top = 34, 10, 18 if caption else 0
    width = len(results) * panel + (len(results) + 1) * gap
    height = top + head + panel + gap + strip_rows * cell + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if caption:
        draw.text((gap, 3), caption, fill=(0, 0, 0))
    for col, r in enumerate(results):
        x_left = gap + col * (panel + gap)
        draw.text((x_left, top + 3), _title(r), fill=(0, 0, 0))
        draw.text((x_left, top + 18), f"path off-data ratio {r.path_ratio:.2f}", fill=(90, 90, 90))
        _draw_plane(sheet, r, labels, x_left, top + head, panel)
        y_strip = top + head + panel + gap
        for k, image in enumerate(r.strip):
            sheet.paste(_frame_pixels(image, cell), (x_left + (k % per_row) * cell, y_strip + (k // per_row) * cell))
    return np.asarray(sheet)


def render_frames(results: Sequence[FamilyResult], labels: np.ndarray | None = None, *,
                  panel: int = 200) -> list[np.ndarray]:
    """The interpolation as animation frames ``[H, W, 3]`` uint8, one per step of the strips.

    Each frame has one column per family: its plane with a marker where the path is at that
    step, and that step's decode underneath, so the families walk the same path side by side.
    """
    _check_drawable(results, panel)
    steps = min(len(r.strip) for r in results)
    head, gap = 18, 10
    width = len(results) * panel + (len(results) + 1) * gap
    height = head + 2 * panel + 2 * gap
    base = Image.new("RGB", (width, height), (255, 255, 255))
    mappers = []
    for col, r in enumerate(results):
        x_left = gap + col * (panel + gap)
        ImageDraw.Draw(base).text((x_left, 3), _title(r), fill=(0, 0, 0))
        mappers.append((x_left, _draw_plane(base, r, labels, x_left, head, panel)))
    frames = []
    for t in range(steps):
        frame = base.copy()
        draw = ImageDraw.Draw(frame)
        for (x_left, to_px), r in zip(mappers, results):
            qx, qy = (float(v[0]) for v in to_px(r.path_xy[t:t + 1]))
            # Black around white: apart from every class colour on the plane.
            draw.ellipse((qx - 8, qy - 8, qx + 8, qy + 8), outline=(0, 0, 0), width=3)
            draw.ellipse((qx - 5, qy - 5, qx + 5, qy + 5), outline=(255, 255, 255), width=2)
            frame.paste(_frame_pixels(r.strip[t], panel), (x_left, head + panel + gap))
        frames.append(np.asarray(frame))
    return frames


def save_animation(path: str | os.PathLike[str], results: Sequence[FamilyResult],
                   labels: np.ndarray | None = None, *, fps: float = 4.0, **options: Any) -> None:
    """Write :func:`render_frames` as a looping GIF (forwards, then back), atomically."""
    from latentlab.core.export import save_gif

    save_gif(path, render_frames(results, labels, **options), fps=fps, pingpong=True)


def save_sheet(path: str | os.PathLike[str], results: Sequence[FamilyResult],
               labels: np.ndarray | None = None, **options: Any) -> None:
    """Write :func:`render_sheet` as a PNG, atomically."""
    from latentlab.core.export import save_png

    save_png(path, render_sheet(results, labels, **options))


def metrics_report(results: Sequence[FamilyResult], data: Dataset, pair: tuple[int, int], *,
                   latent_dim: int, epochs: int) -> dict[str, Any]:
    """The JSON report of a comparison: the settings, the pair and each family's metrics."""
    a, b = pair

    def item(k: int) -> dict[str, Any]:
        out: dict[str, Any] = {"index": k}
        if data.labels is not None and data.class_names:
            out["class"] = data.class_names[int(data.labels[k])]
        return out

    return {"data": {"name": data.name, "source": dict(data.source), "n": len(data)},
            "latent_dim": latent_dim, "epochs": epochs,
            "interpolation": {"from": item(a), "to": item(b), "steps": SCORE_STEPS,
                              "score": "mean distance ratio of the path's codes to the data's codes "
                                       "over the local spacing (below 1 on the data, above 2.5 off it)"},
            "families": {r.family: {"title": r.title, "status": r.status, **r.metrics} for r in results}}


def save_metrics(path: str | os.PathLike[str], report: dict[str, Any]) -> None:
    """Write a report as JSON, atomically (infinities as JSON's ``Infinity``)."""
    from latentlab.core.atomic_file import atomic_write

    text = json.dumps(report, indent=2, allow_nan=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
