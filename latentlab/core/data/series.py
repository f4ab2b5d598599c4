"""Sequence data from a person's files: arrays ``[N, T, F]`` and long series in CSV cut into windows.

**Arrays**: a ``.npy`` holding ``[N, T, F]`` (or ``[N, T]``, one feature), or a ``.npz`` whose
sequences are the array ``sequences``, ``x`` or ``data`` (or its only array), with optional
labels (``y``/``labels``), ``class_names`` and ``feature_names``. The bounded, pickle-free
readers of :mod:`latentlab.core.data.arrays` read them; values must be finite real numbers.

**CSV series**: one header row naming the columns, then one row per time step, one column per
channel. A first column called ``time``, ``t``, ``timestamp``, ``date`` or ``seconds`` is the
time axis and is dropped. The series is standardised per channel (mean 0, standard deviation
1; the centre and scale are recorded in the data set's source so the same numbers apply when
it, or a new series for the same model, is read again) and cut into windows of ``window``
steps every ``stride`` steps: ``[N, window, F]``.

The file's size is checked before anything is read; a ragged, non-numeric, empty,
NaN-containing or too long file is one :class:`LatentLabError` naming the file and the row.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentlab.core.data import arrays
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError

SEQUENCE_KEYS = ("sequences", "x", "data", "arr_0")
FEATURE_NAME_KEYS = ("feature_names",)
TIME_COLUMNS = ("time", "t", "timestamp", "date", "seconds")
#: A CSV larger than this is refused before it is read (about 10 million rows of a few channels).
MAX_CSV_BYTES = 512 * 1024**2
MAX_CSV_ROWS = 20_000_000
MAX_CSV_COLUMNS = 256
#: Windows beyond this many values in all would not fit in memory comfortably.
MAX_WINDOW_VALUES = 1 << 28
DEFAULT_WINDOW = 64
DEFAULT_STRIDE = 16


# -- arrays --------------------------------------------------------------------------------
def load_sequence_arrays(path: str | os.PathLike[str], limit: int | None = None) -> Dataset:
    """A ``.npy`` / ``.npz`` file of sequences ``[N, T, F]`` as a sequence Dataset."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LatentLabError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        found = arrays._load_npz(path)
        key = next((k for k in SEQUENCE_KEYS if k in found), None)
        if key is None and len(found) == 1:
            key = next(iter(found))
        if key is None:
            raise LatentLabError(f"{path}: no sequences found; name the array one of {', '.join(SEQUENCE_KEYS)} "
                                 f"(arrays found: {', '.join(sorted(found)) or 'none'})")
    else:
        found, key = {"sequences": arrays._load_npy(path)}, "sequences"
    where = f"{path} (array '{key}')" if len(found) > 1 else str(path)
    raw = found[key]
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3 or raw.size == 0:
        raise LatentLabError(f"{where}: sequences must be a non-empty array [N, T, F] (or [N, T]); "
                             f"got shape {raw.shape}")
    if raw.dtype.kind not in "biuf":
        raise LatentLabError(f"{where}: sequence values must be real numbers, got dtype {raw.dtype}")
    labels, class_names = arrays._labels(found, len(raw), str(path)) if any(
        k in found for k in arrays.LABEL_KEYS) else (None, ())
    if limit is not None:
        raw = raw[:limit]
        labels = None if labels is None else labels[:limit]
    values = raw.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        item = int(np.argwhere(bad)[0][0])
        raise LatentLabError(f"{where}: sequence {item} contains NaN or infinite values")
    features = tuple(f"f{k}" for k in range(values.shape[2]))
    if "feature_names" in found:
        given = found["feature_names"]
        if given.ndim != 1 or given.dtype.kind not in "US" or len(given) != values.shape[2]:
            raise LatentLabError(f"{path} (array 'feature_names'): must be {values.shape[2]} strings, "
                                 "one per feature")
        features = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in given.tolist())
    return Dataset(name=path.stem, images=torch.from_numpy(np.ascontiguousarray(values)), labels=labels,
                   class_names=class_names, source={"kind": "sequences", "path": str(path.resolve())},
                   kind="sequence", feature_names=features)


# -- CSV series ----------------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_bad_row(lines: list[str], first_line: int, width: int, used: Sequence[int], path: Path) -> str:
    """The first data row that is not ``width`` numbers (a sentence), for the error message."""
    for k, line in enumerate(lines):
        row = first_line + k
        cells = line.split(",")
        if len(cells) != width:
            return f"{path}, row {row}: {len(cells)} columns where the header has {width}"
        for c in used:
            cell = cells[c].strip()
            if not cell:
                return f"{path}, row {row}: column {c + 1} is empty"
            if not _is_number(cell):
                return f"{path}, row {row}: column {c + 1} is not a number ('{cell[:40]}')"
    return f"{path}: the rows could not be read as numbers"


def read_series(path: str | os.PathLike[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """A CSV series as float32 ``[T, F]`` and its channel names (time column dropped)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LatentLabError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise LatentLabError(f"{path}: {size:,} bytes is more than the {MAX_CSV_BYTES:,} bytes a series "
                             "file may have; cut it into shorter files")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LatentLabError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    lines = text.splitlines()
    # Blank lines at the end (a trailing newline or two) are not rows.
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        raise LatentLabError(f"{path}: the file is empty; it needs a header row and one row per time step")
    header = [h.strip() for h in lines[0].split(",")]
    if len(header) > MAX_CSV_COLUMNS:
        raise LatentLabError(f"{path}, row 1: {len(header)} columns; at most {MAX_CSV_COLUMNS} are read")
    if any(_is_number(h) for h in header) or any(not h for h in header):
        raise LatentLabError(f"{path}, row 1: the first row must be a header naming every column "
                             f"(got {lines[0][:80]!r})")
    if len(set(header)) != len(header):
        raise LatentLabError(f"{path}, row 1: two columns share a name")
    rows = lines[1:]
    if not rows:
        raise LatentLabError(f"{path}: the file has a header but no rows of values")
    if len(rows) > MAX_CSV_ROWS:
        raise LatentLabError(f"{path}: {len(rows):,} rows, more than the {MAX_CSV_ROWS:,} a series may have")
    used = list(range(1, len(header))) if header[0].lower() in TIME_COLUMNS else list(range(len(header)))
    if not used:
        raise LatentLabError(f"{path}, row 1: the only column is the time column; add a column of values")
    try:
        values = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", usecols=used, dtype=np.float64,
                            ndmin=2, comments=None)
        if values.shape[0] != len(rows):
            raise ValueError("blank rows")
        commas = len(header) - 1
        ragged = any(line.count(",") != commas for line in rows)
    except ValueError:
        raise LatentLabError(_find_bad_row(rows, 2, len(header), used, path)) from None
    if ragged:
        raise LatentLabError(_find_bad_row(rows, 2, len(header), used, path))
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise LatentLabError(f"{path}, row {row + 2}: column {used[col] + 1} is NaN or infinite; fill or "
                             "drop the missing values first")
    return values.astype(np.float32), tuple(header[c] for c in used)


def cut_windows(series: np.ndarray, window: int, stride: int, where: str = "the series") -> tuple[np.ndarray, np.ndarray]:
    """Windows ``[N, window, F]`` (a view) of ``series`` ``[T, F]`` and their start steps ``[N]``."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise LatentLabError(f"the window must be a whole number of at least 2 steps, got {window!r}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise LatentLabError(f"the stride must be a whole number of at least 1 step, got {stride!r}")
    length = series.shape[0]
    if length < window:
        raise LatentLabError(f"{where} has {length} steps, fewer than one window of {window}; "
                             "choose a shorter --window")
    starts = np.arange(0, length - window + 1, stride)
    if len(starts) * window * series.shape[1] > MAX_WINDOW_VALUES:
        raise LatentLabError(f"{where}: {len(starts):,} windows of {window} steps are too many to hold; "
                             "choose a larger --stride")
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[::stride]  # [N, F, window]
    return view.transpose(0, 2, 1), starts


def standardise(series: np.ndarray, center: Any = None, scale: Any = None,
                where: str = "the series") -> tuple[np.ndarray, list[float], list[float]]:
    """``(series - center) / scale`` per channel; the series' own mean and deviation when not given."""
    if center is None or scale is None:
        center_a = series.mean(axis=0, dtype=np.float64)
        scale_a = series.std(axis=0, dtype=np.float64)
        scale_a[scale_a < 1e-12] = 1.0  # a constant channel stays at 0 rather than dividing by 0
    else:
        center_a, scale_a = np.asarray(center, np.float64), np.asarray(scale, np.float64)
        if center_a.shape != (series.shape[1],) or scale_a.shape != (series.shape[1],) or (scale_a <= 0).any():
            raise LatentLabError(f"{where} has {series.shape[1]} channels; the recorded scaling is for "
                                 f"{center_a.size}")
    out = ((series - center_a) / scale_a).astype(np.float32)
    return out, [float(v) for v in center_a], [float(v) for v in scale_a]


def load_series(path: str | os.PathLike[str], window: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE,
                *, center: Sequence[float] | None = None, scale: Sequence[float] | None = None,
                limit: int | None = None) -> Dataset:
    """A CSV series cut into standardised windows ``[N, window, F]`` (see the module docstring)."""
    path = Path(path).expanduser()
    values, names = read_series(path)
    normal, center, scale = standardise(values, center, scale, str(path))
    windows, starts = cut_windows(normal, window, stride, str(path))
    if limit is not None:
        windows, starts = windows[:limit], starts[:limit]
    source = {"kind": "series", "path": str(path.resolve()), "window": window, "stride": stride,
              "center": center, "scale": scale}
    if limit is not None:
        source["limit"] = limit
    return Dataset(name=path.stem, images=torch.from_numpy(np.array(windows, dtype=np.float32, order="C")),
                   source=source, kind="sequence", feature_names=names)
