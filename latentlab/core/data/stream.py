"""The procedural stream as a data set: a long multichannel series cut into windows.

``stream`` is :func:`latentlab.core.data.sequences.procedural_stream` (slow sines per channel
and a little noise; ``system`` fixes the normal behaviour, ``seed`` the start and the noise),
standardised per channel like a CSV series (the centre and scale are recorded in the source so
a new stream of the same system, or a CSV, is scaled the same way for scoring) and cut into
windows of ``window`` steps every ``stride`` steps. With ``anomalies`` the injected spikes,
level shifts and frozen stretches label the windows they touch ``anomaly``; without, the
windows carry no labels (a stream to learn the normal behaviour from).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.data.sequences import MAX_CHANNELS, procedural_stream
from latentlab.core.data.series import DEFAULT_STRIDE, DEFAULT_WINDOW, cut_windows, standardise
from latentlab.core.errors import LatentLabError

DEFAULT_LENGTH = 20_000
MAX_LENGTH = 5_000_000
DEFAULT_CHANNELS = 3


def _whole(source: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = source.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LatentLabError(f"the stream's {key} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return value


def channel_names(channels: int) -> tuple[str, ...]:
    """The stream's channel names: ``ch0``, ``ch1``, …"""
    return tuple(f"ch{k}" for k in range(channels))


def load_stream(source: Mapping[str, Any], window: int | None = None, stride: int | None = None,
                limit: int | None = None) -> Dataset:
    """The windows ``[N, window, channels]`` of the stream ``source`` describes (see the module doc)."""
    length = _whole(source, "length", DEFAULT_LENGTH, 2, MAX_LENGTH)
    channels = _whole(source, "channels", DEFAULT_CHANNELS, 1, MAX_CHANNELS)
    seed = _whole(source, "seed", 0, 0, 2**63 - 1)
    system = _whole(source, "system", 0, 0, 2**63 - 1)
    anomalies = _whole(source, "anomalies", 0, 0, 100_000)
    window = window if window is not None else source.get("window", DEFAULT_WINDOW)
    stride = stride if stride is not None else source.get("stride", DEFAULT_STRIDE)
    values, mask = procedural_stream(length, channels, seed=seed, anomalies=anomalies, system=system)
    normal, center, scale = standardise(values, source.get("center"), source.get("scale"), "the stream")
    windows, starts = cut_windows(normal, window, stride, "the stream")
    labels = None
    if anomalies:
        hit = np.lib.stride_tricks.sliding_window_view(mask, window)[::stride].any(axis=1)
        labels = torch.from_numpy(hit.astype(np.int64))
    if limit is not None:
        windows, starts = windows[:limit], starts[:limit]
        labels = None if labels is None else labels[:limit]
    recorded: dict[str, Any] = {"kind": "stream", "length": length, "channels": channels, "seed": seed,
                                "system": system, "anomalies": anomalies, "window": window, "stride": stride,
                                "center": center, "scale": scale}
    if limit is not None:
        recorded["limit"] = limit
    return Dataset(name="stream", images=torch.from_numpy(np.array(windows, dtype=np.float32, order="C")),
                   labels=labels, class_names=("normal", "anomaly") if anomalies else (),
                   source=recorded, kind="sequence", feature_names=channel_names(channels))
