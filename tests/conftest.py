"""Shared test set-up: offscreen Qt before any Qt import, one torch thread."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

MNIST_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "resources", "mnist")


@pytest.fixture(scope="session")
def mnist_dir() -> str:
    """Folder holding the bundled MNIST IDX files (real data for tests)."""
    return os.path.abspath(MNIST_DIR)
