"""LatentLab: see and steer what a generative autoencoder has learned.

The Python API (``latentlab.load_model``, ``latentlab.train``, ``latentlab.wrap``, ...) is
loaded on first use, so ``import latentlab`` stays light and the command line and the app
start fast. See ``docs/python-api.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it; imported when first asked for.
_LAZY = {
    **dict.fromkeys(
        ("load_model", "load_dataset", "train", "save_model", "save_weights", "wrap", "as_dataset",
         "grid_search_codes", "ExternalModel", "Trained", "TrainControl", "Progress", "Dataset",
         "LatentModel"), "latentlab.api"),
    "LatentLabError": "latentlab.core.errors",
    "load_onnx": "latentlab.core.onnx_io",
    "export_onnx": "latentlab.core.onnx_io",
    "show": "latentlab.launch",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'latentlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
