"""A training time-lapse: the latent plane and the decoded probe, one frame per snapshot.

Each frame puts side by side what the app shows while a model trains: on the left the data's
codes on the latent plane (points coloured by label, drawn with Pillow), on the right what the
decoder makes of the probe. :class:`Timelapse` renders a frame from each training snapshot and
streams it to the file as it goes (MP4 through :class:`~latentlab.core.video.VideoWriter`), so
memory stays bounded however long training runs; a GIF keeps its (palette) frames until the
end and is capped at :data:`MAX_GIF_FRAMES`.

The plane is the two latent axes for a 2-D code and the codes' PCA plane otherwise, refitted
per frame with its axes' signs kept from the frame before so the picture does not flip. The
view is fitted to each frame's points (1st to 99th percentile, with a margin).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentlab.core.atomic_file import AllOrNothing
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.config import ModelConfig

__all__ = ["FORMATS", "MAX_GIF_FRAMES", "MAX_POINTS", "PALETTE", "Timelapse", "TimelapseRecorder", "gif_frame",
           "render_frame"]

FORMATS = (".mp4", ".gif")
MAX_GIF_FRAMES = 600
MAX_POINTS = 2000
#: Label colours (Tableau 10), repeated for more classes; unlabelled points are grey.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
_GREY = (120, 120, 120)
_CAPTION = 18   # pixels of the caption band above the panels


def _plane_xy(codes: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Plane coordinates ``[N, 2]`` and the ``[2, D]`` basis used (signs aligned with ``previous``)."""
    from latentlab.core.latent_plane import pca_plane

    dim = codes.shape[1]
    if dim <= 2:
        basis = np.eye(2, dim, dtype=np.float32)
        return codes @ basis.T, basis
    plane = pca_plane(torch.from_numpy(codes))
    basis = plane.basis.numpy().copy()
    if previous is not None:
        for k in range(2):
            if float(basis[k] @ previous[k]) < 0:
                basis[k] = -basis[k]
    return (codes - plane.origin.numpy()) @ basis.T, basis


def _view(xy: np.ndarray) -> tuple[float, float, float, float]:
    lo = np.percentile(xy, 1, axis=0) if len(xy) else np.array([-1.0, -1.0])
    hi = np.percentile(xy, 99, axis=0) if len(xy) else np.array([1.0, 1.0])
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def render_frame(xy: np.ndarray, labels: np.ndarray | None, probe_xy: np.ndarray | None,
                 decoded: np.ndarray, size: int, caption: str = "") -> np.ndarray:
    """One frame ``[H, W, 3]`` uint8: the plane (``size`` square) beside the decoded probe.

    ``xy`` are the points' plane coordinates, ``labels`` their classes (or None),
    ``probe_xy`` the probe's position, ``decoded`` the probe's render (uint8 ``[h, w]`` or
    ``[h, w, 3]``), scaled to ``size`` with nearest-neighbour pixels.
    """
    x0, x1, y0, y1 = _view(np.concatenate([xy, probe_xy[None]]) if probe_xy is not None else xy)
    frame = Image.new("RGB", (2 * size, size + _CAPTION), (255, 255, 255))
    draw = ImageDraw.Draw(frame)

    def to_px(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # y grows upwards on the plane and downwards on the picture.
        return ((p[:, 0] - x0) / (x1 - x0) * (size - 1),
                _CAPTION + (1 - (p[:, 1] - y0) / (y1 - y0)) * (size - 1))

    px, py = to_px(xy)
    r = 2 if len(xy) <= 500 else 1
    for k in range(len(xy)):
        colour = PALETTE[int(labels[k]) % len(PALETTE)] if labels is not None else _GREY
        draw.ellipse((px[k] - r, py[k] - r, px[k] + r, py[k] + r), fill=colour)
    if probe_xy is not None:
        qx, qy = (float(v[0]) for v in to_px(probe_xy[None]))
        draw.line((qx - 6, qy, qx + 6, qy), fill=(0, 0, 0), width=2)
        draw.line((qx, qy - 6, qx, qy + 6), fill=(0, 0, 0), width=2)
    draw.line((size, _CAPTION, size, _CAPTION + size), fill=(200, 200, 200))
    picture = Image.fromarray(np.ascontiguousarray(decoded)).convert("RGB")
    frame.paste(picture.resize((size, size), Image.Resampling.NEAREST), (size, _CAPTION))
    if caption:
        draw.text((4, 3), caption, fill=(0, 0, 0))
    return np.asarray(frame)


def gif_frame(px: np.ndarray) -> Image.Image:
    """A frame ``[H, W, 3]`` uint8 as a time-lapse GIF keeps it: 64 colours (plenty for flat dots)."""
    return Image.fromarray(px).quantize(colors=64)


class Timelapse(AllOrNothing):
    """Turn training snapshots into a video or GIF, one frame per :meth:`add`.

    Parameters
    ----------
    path:
        ``.mp4`` (needs the video extra) or ``.gif``; written atomically when :meth:`close`\\ d.
    config:
        The trained model's :class:`ModelConfig`.
    data:
        Data whose first :data:`MAX_POINTS` items are drawn (coloured by its labels).
    probe:
        The latent code decoded on the right, ``[D]``; None decodes the code of the first item,
        so the right panel shows that item's reconstruction improving.
    fps, size:
        Frame rate, and the side in pixels of each panel.
    """

    def __init__(self, path: str | os.PathLike[str], config: ModelConfig, data: Dataset, *,
                 probe: np.ndarray | None = None, fps: float = 8.0, size: int = 256,
                 points: int = MAX_POINTS) -> None:
        from latentlab.core import inference
        from latentlab.core.render import output_spec

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise LatentLabError(f"a time-lapse is written as {' or '.join(FORMATS)}, not '{self.path.name}'")
        if not 64 <= size <= 1024:
            raise LatentLabError(f"a time-lapse panel must be 64 to 1024 pixels, got {size}")
        inference.check_compatible(config, data)
        if not config.capabilities.encoder:
            raise LatentLabError("a time-lapse places the data with the model's encoder; this model has none")
        self.config, self.size, self.fps = config, int(size), float(fps)
        n = min(len(data), max(1, int(points)))
        self.items = data.images[:n]
        self.labels = None if data.labels is None else data.labels[:n].numpy()
        self.condition = data.labels[:n] if config.is_conditional else None
        if probe is not None:
            probe = np.asarray(probe, np.float32).reshape(-1)
            if probe.shape != (config.latent_dim,):
                raise LatentLabError(f"the probe must be a code of {config.latent_dim} numbers, got {probe.shape[0]}")
        self.probe = probe
        self.spec = output_spec(config)
        self._basis: np.ndarray | None = None
        self.frames = 0
        self._gif: list[Image.Image] = []
        self._video: Any = None
        if suffix == ".mp4":
            from latentlab.core.video import VideoWriter

            self._video = VideoWriter(self.path, fps)
        elif not 0 < fps <= 120:
            raise LatentLabError(f"frames per second must be above 0 and at most 120, got {fps}")

    def frame(self, state: Mapping[str, torch.Tensor], caption: str = "") -> np.ndarray:
        """The frame of the model with weights ``state`` (a snapshot), without writing it."""
        from latentlab.core import inference
        from latentlab.core.render import render

        model = inference.model_from_state(self.config, state)
        codes = inference.encode(model, self.items, self.condition)
        probe = self.probe if self.probe is not None else codes[0]
        condition = None if self.condition is None else int(self.condition[0])
        decoded = inference.decode(model, probe, condition)[0]
        # The probe is placed with the points, on the same plane.
        both, self._basis = _plane_xy(np.concatenate([codes, probe[None]]), self._basis)
        xy, probe_xy = both[:-1], both[-1]
        picture = render(decoded, self.spec, size=None if self.spec.kind == "image" else (self.size, self.size))
        return render_frame(xy, self.labels, probe_xy, picture, self.size, caption)

    def add(self, state: Mapping[str, torch.Tensor], caption: str = "") -> None:
        """Render the model with weights ``state`` and append the frame."""
        px = self.frame(state, caption)
        if self._video is not None:
            self._video.append(px)
        else:
            if len(self._gif) >= MAX_GIF_FRAMES:
                raise LatentLabError(f"a GIF time-lapse holds at most {MAX_GIF_FRAMES} frames; write an .mp4 "
                                     "or take fewer frames")
            self._gif.append(gif_frame(px))
        self.frames += 1

    def close(self) -> None:
        """Finish the file (nothing is written before this)."""
        if self._video is not None:
            self._video.close()
            return
        if not self._gif:
            raise LatentLabError("a time-lapse needs at least one frame")
        from latentlab.core.export import write_gif

        write_gif(self.path, self._gif, self.fps)
        self._gif = []

    def abort(self) -> None:
        """Drop the frames; the target file is left as it was."""
        if self._video is not None:
            self._video.abort()
        self._gif = []


class TimelapseRecorder(AllOrNothing):
    """Feed it everything training yields; it frames the snapshots it should.

    ``every`` steps per frame (None: every snapshot); the run's last snapshot always makes a
    frame. Use as a context manager: the file is finished when the block ends and discarded
    when it ends with an error. ``first_epoch`` numbers the captions of a continued run.
    """

    def __init__(self, path: str | os.PathLike[str], config: ModelConfig, data: Dataset, *,
                 every: int | None = None, first_epoch: int = 1, **options: Any) -> None:
        if every is not None and every < 1:
            raise LatentLabError(f"a time-lapse frame every {every} steps: give 1 or more")
        self.timelapse = Timelapse(path, config, data, **options)
        self.every, self.offset = every, first_epoch - 1
        self._next = 0
        self._pending: Any = None

    @property
    def frames(self) -> int:
        return self.timelapse.frames

    def offer(self, item: Any) -> None:
        """Take a training item; a :class:`~latentlab.core.training_types.Snapshot` may become a frame."""
        from latentlab.core.training_types import Snapshot

        if not isinstance(item, Snapshot):
            return
        if self.every is None or item.step >= self._next:
            self._add(item)
            if self.every is not None:
                self._next = (item.step // self.every + 1) * self.every
        else:
            self._pending = item

    def _add(self, snap: Any) -> None:
        self.timelapse.add(snap.state, f"epoch {snap.epoch + self.offset}  step {snap.step}")
        self._pending = None

    def close(self) -> None:
        """Frame the last snapshot if it was skipped, and write the file."""
        if self._pending is not None:
            self._add(self._pending)
        self.timelapse.close()

    def abort(self) -> None:
        """Drop the frames; the target file is left as it was."""
        self.timelapse.abort()
