"""A tiny deterministic stand-in for the host of the latent tools, shared by their tests.

The "model" decodes with a fixed random linear map followed by a sigmoid and encodes
with its pseudo-inverse, so encode(decode(z)) == z for latent sizes up to the pixel count.
"""

from __future__ import annotations

import numpy as np
import torch

from latentlab.core.latent import Plane, pca_plane
from latentlab.gui.tools import ToolsController

SIDE = 8              # images are [1, 8, 8]: 64 pixels, enough for a 40-dim latent
CLASS_NAMES = ["zero", "one", "two", "three"]


class FakeHost:
    """Data set, model, plane and probe behind the callables ToolsController wants."""

    def __init__(self, dim: int = 4, n: int = 40, labelled: bool = True, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.weights = rng.normal(size=(dim, SIDE * SIDE)).astype(np.float32) / np.sqrt(dim)
        self.pinv = np.linalg.pinv(self.weights.astype(np.float64))
        self.labels_ = np.arange(n) % len(CLASS_NAMES) if labelled else None
        offsets = rng.normal(size=(len(CLASS_NAMES), dim)) * 2.0
        self.codes_ = (rng.normal(size=(n, dim)) * 0.3 + offsets[np.arange(n) % len(CLASS_NAMES)]).astype(np.float32)
        self.plane_: Plane | None = pca_plane(torch.from_numpy(self.codes_))
        self.z: np.ndarray | None = np.zeros(dim, np.float32)
        self.selected: int | None = None
        self.decoded: list[np.ndarray] = []   # every batch of codes decode() was given

    def decode(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, np.float32)
        self.decoded.append(codes.copy())
        logits = codes.astype(np.float64) @ self.weights
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32).reshape(-1, 1, SIDE, SIDE)

    def encode(self, images: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(images, np.float64).reshape(len(images), -1), 1e-4, 1 - 1e-4)
        return (np.log(x / (1 - x)) @ self.pinv).astype(np.float32)

    def set_probe_z(self, z: np.ndarray) -> None:
        self.z = np.array(z, np.float32)

    def controller(self, **overrides) -> ToolsController:
        """A controller over this host; ``overrides`` replace individual callables."""
        callables = dict(
            encode=self.encode,
            decode=self.decode,
            plane=lambda: self.plane_,
            item_image=lambda i: self.decode(self.codes_[i][None])[0],
            codes=lambda: self.codes_,
            labels=lambda: self.labels_,
            class_names=lambda: CLASS_NAMES if self.labels_ is not None else [],
            probe_z=lambda: None if self.z is None else self.z.copy(),
            set_probe_z=self.set_probe_z,
            selected_index=lambda: self.selected,
        )
        return ToolsController(**{**callables, **overrides})


def test_fake_model_encodes_what_it_decodes() -> None:
    host = FakeHost(dim=5)
    z = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    images = host.decode(z)
    assert images.shape == (3, 1, SIDE, SIDE)
    np.testing.assert_allclose(host.encode(images), z, atol=1e-3)
