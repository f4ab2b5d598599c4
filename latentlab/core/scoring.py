"""Scoring a long series window by window: each window's code and reconstruction error.

A model trained on windows of a normal stream (the ``stream-ae`` family, or any sequence
model) reconstructs normal windows well and unusual ones (spikes, level shifts, a frozen
sensor) badly, so the reconstruction error is an anomaly score. The windows are strided
views of the series (no copy), encoded and decoded in chunks under ``torch.inference_mode``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentlab.core.atomic_file import atomic_write
from latentlab.core.data.series import cut_windows
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel

#: Windows encoded and decoded at once. Small chunks keep each layer's activations in the CPU's
#: cache: with the default ``stream-ae`` (conv 32-64, windows of 64) 256 windows a chunk score
#: about three times as many samples a second as 4096 on one thread, and a cancelled scoring
#: stops sooner.
SCORE_CHUNK = 256


@dataclass(frozen=True)
class WindowScores:
    """Per window: ``starts`` (step of its first sample) ``[N]``, ``codes`` ``[N, D]``,
    ``errors`` ``[N]`` (mean squared reconstruction error over the window's values) and
    ``peaks`` ``[N]`` (the largest squared error of one step, averaged over its features: a
    short spike that barely moves the mean stands out here)."""

    starts: np.ndarray
    codes: np.ndarray
    errors: np.ndarray
    peaks: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def score_series(model: LatentModel, series: np.ndarray, stride: int, *, chunk: int = SCORE_CHUNK,
                 should_stop: Callable[[], bool] | None = None) -> WindowScores | None:
    """Score every window of ``series`` ``[T, F]`` (already scaled as the model's data was).

    The window length is the model's ``T``; windows start every ``stride`` steps. Returns None
    when ``should_stop()`` says so between chunks.
    """
    config = model.config
    if config.capabilities.output != "sequence" or not config.capabilities.encoder:
        raise LatentLabError(f"scoring needs a sequence model with an encoder; this is a {config.family} model")
    window, features = config.input_shape
    if series.ndim != 2 or series.shape[1] != features:
        raise LatentLabError(f"the model reads {features} channel{'s' if features != 1 else ''} "
                             f"({', '.join(config.feature_names)}); the series has "
                             f"{series.shape[1] if series.ndim == 2 else '?'}")
    windows, starts = cut_windows(np.ascontiguousarray(series, dtype=np.float32), window, stride)
    codes = np.empty((len(starts), config.latent_dim), np.float32)
    errors = np.empty(len(starts), np.float32)
    peaks = np.empty(len(starts), np.float32)
    device = model.device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for lo in range(0, len(starts), chunk):
                if should_stop is not None and should_stop():
                    return None
                x = torch.from_numpy(np.array(windows[lo:lo + chunk], dtype=np.float32, order="C")).to(device)
                mu, _ = model.encode(x)
                out = model.decode_image(mu)
                codes[lo:lo + len(x)] = mu.to("cpu", torch.float32).numpy()
                per_step = (out - x).pow(2).mean(2)                     # [B, T]
                errors[lo:lo + len(x)] = per_step.mean(1).to("cpu", torch.float32).numpy()
                peaks[lo:lo + len(x)] = per_step.amax(1).to("cpu", torch.float32).numpy()
    finally:
        model.train(was_training)
    return WindowScores(starts=starts, codes=codes, errors=errors, peaks=peaks)


def save_scores(path: str | os.PathLike[str], scores: WindowScores) -> None:
    """Write ``start,error,peak,z0..z{D-1}`` one row per window as CSV (atomically)."""
    if os.path.splitext(os.fspath(path))[1].lower() != ".csv":
        raise LatentLabError(f"scores are written as a .csv file, got '{os.fspath(path)}'")
    dim = scores.codes.shape[1]
    buf = io.StringIO()
    buf.write(",".join(["start", "error", "peak", *(f"z{k}" for k in range(dim))]) + "\n")
    table = np.concatenate([scores.errors[:, None], scores.peaks[:, None], scores.codes], axis=1)
    body = io.StringIO()
    np.savetxt(body, table, delimiter=",", fmt="%.7g")
    lines = body.getvalue().splitlines()
    buf.write("".join(f"{s},{line}\n" for s, line in zip(scores.starts.tolist(), lines)))
    data = buf.getvalue().encode()
    atomic_write(path, lambda f: f.write(data))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean ``positive`` (ties count half)."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative examples")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
