"""Placing the data set on the plane: encoding it, or inverting a generator that has no encoder.

A model with an encoder gives its latent means in a moment. A GAN has none: its data are
placed by inverting the generator (:mod:`latentlab.core.inversion`), which takes seconds to
minutes, so it runs as a job of the inference worker with its progress in the status bar,
and a newer request (new weights, another model or data set) stops it. The result carries
each item's reconstruction error, which the plane shows as how strongly the dot is drawn.

While a GAN trains, each placement is quicker (fewer refinement steps) and is not
interrupted by the next weight snapshot: it finishes, and the controller asks for the next
one with the newest weights, so the dots move every few seconds instead of never arriving.
For a latent regressor (latents above :data:`~latentlab.core.inversion.GRID_MAX_DIM`) the
first placement of a run tops the snapshot's regressor up; :class:`RegressorCache` hands that
regressor to the next placements of the same model, so it is not trained again each time.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentlab.core import inference, inversion
from latentlab.core.data.dataset import Dataset
from latentlab.core.models.base import LatentModel, ModelConfig

#: Refinement steps per chunk while the model is still training (a quick, rougher placement).
TRAINING_STEPS = 8
PLACING_TEXT = "Placing data by inverting the generator…"


@dataclass(frozen=True)
class Placed:
    """Codes ``[N, D]``; for an inverted model each item's RMS pixel error ``[N]`` (else None)
    and the latent regressor it used (``regressor``: its tensors, or None). An encoder that
    has variances gives its log-variances ``[N, D]`` too (``logvars``: the off-manifold map
    reads them instead of encoding the data a second time). ``cpu_s`` is the processor time
    the placement took on its thread (what the next one will cost, for pacing them)."""

    codes: np.ndarray
    errors: np.ndarray | None = None
    regressor: dict[str, torch.Tensor] | None = None
    logvars: np.ndarray | None = None
    cpu_s: float = 0.0


def by_inversion(config: ModelConfig | None) -> bool:
    """Whether a model of ``config`` has its data placed by inverting its generator."""
    return config is not None and not config.capabilities.encoder


def progress_text(done: int, total: int) -> str:
    """The status line while placing: ``Placing data by inverting the generator… 40%``."""
    percent = 0 if total <= 0 else int(100 * min(done, total) / total)
    return f"{PLACING_TEXT} {percent}%"


def placed_text(placed: Placed) -> str:
    """The status line once an inversion has placed the data."""
    n = len(placed.codes)
    median = float(np.median(placed.errors)) if placed.errors is not None and n else 0.0
    return (f"Placed {n:,} items by inverting the generator (median RMS error {median:.3f}); "
            "faint dots are those it cannot reproduce well.")


def _regressor_tensors(model: LatentModel) -> dict[str, torch.Tensor] | None:
    if getattr(model, "regressor", None) is None:
        return None
    state = {f"regressor.{k}": v.detach().to("cpu", copy=True) for k, v in model.regressor.state_dict().items()}
    state["regressor_steps"] = model.regressor_steps.detach().clone()
    return state


def adopt_regressor(model: LatentModel, tensors: dict[str, torch.Tensor] | None) -> None:
    """Start from a regressor trained by an earlier placement when the snapshot's has had fewer steps."""
    if tensors is None or getattr(model, "regressor", None) is None:
        return
    if int(tensors["regressor_steps"]) <= int(model.regressor_steps):
        return
    prefix = "regressor."
    model.regressor.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    model.regressor_steps.copy_(tensors["regressor_steps"])


def placement_job(config: ModelConfig, state: dict[str, torch.Tensor], data: Dataset, *,
                  quick: bool = False, regressor: dict[str, torch.Tensor] | None = None):
    """A job for the inference worker: ``job(should_stop, progress) -> Placed | None``.

    A model with an encoder is encoded (``errors`` None); one without is inverted, with
    :data:`TRAINING_STEPS` refinement steps when ``quick``, starting from ``regressor`` (an
    earlier placement's regressor of the same model) when it is further trained than the
    snapshot's. None when stopped.
    """
    def job(should_stop: Callable[[], bool], progress: Callable[[int, int], None] | None = None) -> Placed | None:
        started = time.thread_time()
        found = _place(should_stop, progress)
        return None if found is None else dataclasses.replace(found, cpu_s=time.thread_time() - started)

    def _place(should_stop: Callable[[], bool], progress: Callable[[int, int], None] | None) -> Placed | None:
        model = inference.model_from_state(config, state)
        if not by_inversion(config):
            # The log-variances come with the same pass (the encoder computes them anyway).
            found = inference.encode_dataset_posterior(model, data, should_stop=should_stop, progress=progress)
            return None if found is None else Placed(found[0], logvars=found[1])
        inference.check_compatible(config, data)
        adopt_regressor(model, regressor)
        if progress is not None:
            progress(0, len(data))
        steps = TRAINING_STEPS if quick else inversion.REFINE_STEPS
        found = inversion.invert(model, data.images, steps=steps, should_stop=should_stop, progress=progress)
        if found is None:
            return None
        return Placed(found.codes, found.errors, _regressor_tensors(model))

    return job


class RegressorCache:
    """The latent regressor the last placement of a model trained, for the next placements."""

    def __init__(self) -> None:
        self._key: object = None
        self._tensors: dict[str, torch.Tensor] | None = None

    def get(self, key: object) -> dict[str, torch.Tensor] | None:
        """The regressor kept for model ``key`` (None for another model)."""
        return self._tensors if key == self._key else None

    def keep(self, key: object, placed: Placed) -> None:
        """Remember ``placed``'s regressor for model ``key``."""
        if placed.regressor is not None:
            self._key, self._tensors = key, placed.regressor
