"""The one in-memory form every data source is turned into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch

from latentlab.core.errors import LatentLabError

REFERENCE_VAL_FRACTION = 0.2
#: What a data set's items are: images ``[N, C, H, W]`` or sequences ``[N, T, F]``.
DATA_KINDS = ("image", "sequence")


@dataclass
class Dataset:
    """Items (images or sequences) plus what is known about them.

    Attributes
    ----------
    name:
        Short human name ("mnist", "moons", a folder's name, ...).
    images:
        The items: for ``kind == "image"`` a float32 tensor ``[N, C, H, W]`` in ``[0, 1]``;
        for ``kind == "sequence"`` a float32 tensor ``[N, T, F]`` of finite values (any
        range). :attr:`items` is the same tensor under a kind-neutral name.
    labels:
        int64 tensor ``[N]`` or None.
    class_names:
        One name per label value (empty when there are no labels).
    factors:
        float32 tensor ``[N, F]`` of known generative factors, or None.
    factor_names:
        One name per factor column.
    source:
        JSON-able description that :func:`latentlab.core.data.load_dataset` can reload
        (``{"kind": "mnist"}``, ``{"kind": "folder", "path": ..., "size": 28, ...}``).
    skipped:
        ``(file name, reason)`` for every input file that was skipped.
    kind:
        ``"image"`` or ``"sequence"`` (see :data:`DATA_KINDS`).
    feature_names:
        For sequences, one name per feature column ``F`` (``("x", "y", "pen")`` for pen
        strokes); empty for images.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: tuple[str, ...] = ()
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()
    kind: str = "image"
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"kind must be one of {DATA_KINDS}, got {self.kind!r}")
        if self.kind == "image":
            if self.images.ndim != 4 or self.images.dtype != torch.float32:
                raise ValueError("images must be a float32 tensor [N, C, H, W]")
            if self.feature_names:
                raise ValueError("feature names belong to sequence data")
        else:
            if self.images.ndim != 3 or self.images.dtype != torch.float32:
                raise ValueError("sequences must be a float32 tensor [N, T, F]")
            self.feature_names = tuple(str(v) for v in self.feature_names)
            if self.feature_names and len(self.feature_names) != self.images.shape[2]:
                raise ValueError("there must be one feature name per feature column")
        n = self.images.shape[0]
        if self.labels is not None and tuple(self.labels.shape) != (n,):
            raise ValueError("labels must be a tensor [N]")
        if self.factors is not None and (self.factors.ndim != 2 or self.factors.shape[0] != n):
            raise ValueError("factors must be a tensor [N, F]")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def items(self) -> torch.Tensor:
        """The items of either kind: ``[N, C, H, W]`` images or ``[N, T, F]`` sequences."""
        return self.images

    @property
    def is_sequence(self) -> bool:
        return self.kind == "sequence"

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one item: ``(C, H, W)`` of an image or ``(T, F)`` of a sequence."""
        return tuple(int(v) for v in self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def fingerprint(self) -> str:
        """A stable content hash of images and labels (hex, 16 characters)."""
        cached = getattr(self, "_fingerprint", None)
        if cached is None:
            h = hashlib.sha256()
            h.update(repr(tuple(self.images.shape)).encode())
            if self.kind == "image":
                # Quantise to bytes so the hash does not depend on float noise.
                h.update((self.images * 255).round().to(torch.uint8).numpy().tobytes())
            else:
                # Sequences have any range: hash them rounded to 1e-4 of their own scale.
                scale = float(self.images.abs().max()) if self.images.numel() else 1.0
                q = (self.images / max(scale, 1e-12) * 1e4).round().to(torch.int32)
                h.update(repr(round(scale, 6)).encode())
                h.update(q.numpy().tobytes())
            if self.labels is not None:
                h.update(self.labels.to(torch.int64).numpy().tobytes())
            cached = h.hexdigest()[:16]
            object.__setattr__(self, "_fingerprint", cached)
        return cached

    def split(
        self, val_fraction: float = REFERENCE_VAL_FRACTION, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeded train/validation index split.

        ``perm = randperm(N, seed)``; the first ``N - n_val`` train, the last ``n_val``
        validate. For the 10,000 MNIST digits with the defaults this is the reference
        8,000 / 2,000 split.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise LatentLabError(f"validation fraction must be in [0, 1), got {val_fraction}")
        n = len(self)
        n_val = int(round(n * val_fraction))
        if n - n_val < 1:
            raise LatentLabError(f"data set '{self.name}' is too small to split ({n} items)")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return perm[: n - n_val], perm[n - n_val :]

    def subset(self, indices: torch.Tensor) -> Dataset:
        """A new Dataset with only the given items (same names and source)."""
        return Dataset(
            name=self.name,
            images=self.images[indices],
            labels=None if self.labels is None else self.labels[indices],
            class_names=self.class_names,
            factors=None if self.factors is None else self.factors[indices],
            factor_names=self.factor_names,
            source=dict(self.source),
            skipped=self.skipped,
            kind=self.kind,
            feature_names=self.feature_names,
        )
