"""The plain data training speaks in: its settings, reports, result and control flags.

:class:`TrainConfig` says how to train, :class:`Progress` and :class:`Snapshot` are what
:func:`latentlab.core.training.train` yields, :class:`TrainResult` what it returns, and
:class:`TrainControl` the thread-safe flags another thread uses to pause or stop it. All
are importable from :mod:`latentlab.core.training` as well.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel
from latentlab.core.training_settings import PRECISIONS

__all__ = ["RESUME_FREE_SETTINGS", "Progress", "RunState", "Snapshot", "TrainConfig", "TrainControl", "TrainResult"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train (what to train is a ModelConfig).

    ``lr`` is the learning rate of every optimiser not named in ``lrs`` (optimiser name →
    learning rate, for families that train with several, e.g. a generator and a discriminator).
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"            # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps"
    threads: int | None = None      # torch intra-op threads; None = leave torch's setting alone
    val_fraction: float = 0.2       # 0.2 with seed 0 on MNIST = the reference 8,000 / 2,000 split
    snapshot_interval_s: float = 0.5
    progress_interval_s: float = 0.1
    lrs: Mapping[str, float] = field(default_factory=dict, hash=False)
    checkpoint_every: int = 0       # yield a RunState every this many epochs (0: never)
    checkpoint_interval_s: float = 0.0  # ... but at most one per this many seconds
    # Semi-supervised training: keep this many labels of the training split (balanced over the
    # classes, seeded) and hand the rest to the family as unlabelled (label -1); None keeps all.
    labelled: int | None = None
    # "auto" (float32, or bfloat16 where the family and the CPU gain from it: see
    # latentlab.core.precision.resolve), "fp32", "bf16" (autocast) or "fp16" (autocast + loss
    # scaling, CUDA only)
    precision: str = "auto"
    compile: str = ""               # a torch.compile backend ("inductor", "eager", ...); "" = not compiled
    # How the run was distributed (set by the trainer's caller under torchrun; recorded in the
    # saved settings): processes, and the collective backend ("gloo", "nccl"; "" for one process).
    world_size: int = 1
    backend: str = ""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise LatentLabError(f"unknown precision '{self.precision}'; use {', '.join(PRECISIONS)}")
        if isinstance(self.world_size, bool) or not isinstance(self.world_size, int) or self.world_size < 1:
            raise LatentLabError(f"the number of processes must be at least 1, got {self.world_size!r}")
        if self.labelled is not None and (isinstance(self.labelled, bool) or self.labelled < 1):
            raise LatentLabError(f"the number of labels to keep must be at least 1, got {self.labelled}")
        if self.epochs < 1:
            raise LatentLabError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise LatentLabError(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise LatentLabError(f"learning rate must be positive, got {self.lr}")
        if self.threads is not None and self.threads < 1:
            raise LatentLabError(f"threads must be at least 1, got {self.threads}")
        object.__setattr__(self, "lrs", _checked_lrs(self.lrs))
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) \
                or self.checkpoint_every < 0:
            raise LatentLabError(f"checkpoint every must be a whole number of epochs (0: never), got "
                                 f"{self.checkpoint_every!r}")
        if not (self.checkpoint_interval_s >= 0 and math.isfinite(self.checkpoint_interval_s)):
            raise LatentLabError(f"the checkpoint interval must be 0 or more seconds, got {self.checkpoint_interval_s!r}")

    def lr_for(self, optimizer: str) -> float:
        """The learning rate of the optimiser called ``optimizer``."""
        return self.lrs.get(optimizer, self.lr)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _checked_lrs(lrs: Mapping[str, float] | None) -> dict[str, float]:
    if lrs is None:
        return {}
    if not isinstance(lrs, Mapping):
        raise LatentLabError(f"per-optimiser learning rates must map names to numbers, got {lrs!r}")
    out: dict[str, float] = {}
    for name, value in lrs.items():
        if not isinstance(name, str) or not name:
            raise LatentLabError(f"an optimiser's name must be non-empty text, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
            raise LatentLabError(f"the learning rate of optimiser '{name}' must be a positive number, got {value!r}")
        out[name] = float(value)
    return out


@dataclass
class Progress:
    """A rate-limited progress report. ``val`` is set on the report closing an epoch."""

    epoch: int                      # 1-based epoch in progress
    epochs: int
    step: int                       # global optimiser step
    steps_per_epoch: int
    terms: dict[str, float]         # running means over the epoch so far of every term the family reports
    images_per_s: float
    eta_s: float
    val: dict[str, float] | None = None   # validation terms, only at the end of an epoch
    epoch_done: bool = False
    entry: dict[str, Any] | None = None   # the epoch's history entry, on the report closing it
    precision: str = "fp32"         # what the steps run in ("auto" resolved: fp32, bf16 or fp16)


@dataclass
class Snapshot:
    """A detached CPU copy of the weights (``state_dict`` layout), safe to use on any thread."""

    state: dict[str, torch.Tensor]
    epoch: int
    step: int


#: TrainConfig settings that do not change what a run computes on one device; a resumed run
#: may differ from the interrupted one in these (a different thread count can change the
#: last bits of a CPU result, so keep it for bit-identical resumes).
RESUME_FREE_SETTINGS = frozenset({"device", "threads", "snapshot_interval_s", "progress_interval_s",
                                   "checkpoint_every", "checkpoint_interval_s", "compile", "backend"})


@dataclass
class RunState:
    """Everything a training run needs to go on exactly where it stopped, at an epoch's end.

    Yielded by :func:`latentlab.core.training.train` when ``TrainConfig.checkpoint_every`` is
    due and handed back as ``train(..., resume=state)``; :mod:`latentlab.core.autosave` writes
    and reads it (safetensors + JSON). Every tensor is a CPU copy that shares no memory with
    the run, so it can be written on another thread.
    """

    epoch: int                                  # epochs finished
    step: int                                   # optimiser steps taken
    model: dict[str, torch.Tensor]              # the weights (state_dict layout)
    optimizers: dict[str, dict[str, Any]]       # optimiser name -> its state_dict()
    shuffle: torch.Tensor                       # the batch-shuffling generator's state
    rng: tuple[torch.Tensor, torch.Tensor | None]  # the run's private random stream (CPU, CUDA)
    history: list[dict[str, Any]]               # one dict per finished epoch
    model_config: dict[str, Any]                # what was trained (ModelConfig.to_dict())
    train_config: dict[str, Any]                # how (TrainConfig.to_dict())
    data_fingerprint: str                       # on what
    counters: dict[str, float] = field(default_factory=dict)  # images and seconds so far (for ETAs)

    @property
    def epochs(self) -> int:
        """The epochs the run was set to train."""
        return int(self.train_config.get("epochs", self.epoch))


@dataclass
class TrainResult:
    """What training returned. ``status`` is "finished", "cancelled" or "diverged"."""

    model: LatentModel              # on the CPU, eval mode, with the last good weights
    history: list[dict[str, Any]] = field(default_factory=list)  # one dict per finished epoch
    status: str = "finished"
    message: str = ""


class TrainControl:
    """Thread-safe pause / resume / cancel flags, checked by the trainer between steps."""

    def __init__(self) -> None:
        self._run = threading.Event()
        self._run.set()
        self._cancel = threading.Event()

    def pause(self) -> None:
        self._run.clear()

    def resume(self) -> None:
        self._run.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._run.set()

    @property
    def paused(self) -> bool:
        return not self._run.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait_if_paused(self, timeout: float | None = None) -> None:
        self._run.wait(timeout)
