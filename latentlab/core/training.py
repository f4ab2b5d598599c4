"""Training as a Qt-free generator: yields Progress and Snapshot, returns TrainResult.

The trainer knows no family by name: it asks the model's family in the registry
(:mod:`latentlab.core.models.registry`) for its optimisers, its training step, the terms the
step reports, its validation and its schedule (e.g. the VAE's KL weight), and fits a
closed-form family (``capabilities.trainable`` False) in one go instead.

Speed matters here (the GUI trains live), so the hot loop is plain: the data sit on the
device once, each epoch is one seeded permutation and contiguous slices (no DataLoader),
Adam is fused where the device has the kernel, the loss terms are summed as tensors and
read back only when a report is due, and large CPU linear layers use the oneDNN kernel (see
:mod:`latentlab.core.device`). ``benchmarks/train_speed.py`` measures the result against
the canonical PyTorch VAE loop.

The settings, reports and control flags (:class:`TrainConfig`, :class:`Progress`,
:class:`Snapshot`, :class:`TrainResult`, :class:`TrainControl`) live in
:mod:`latentlab.core.training_types` and are re-exported here.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Generator, Iterator
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.device import (
    PrivateRandom,
    all_finite,
    cpu_state,
    fast_linear_layers,
    resolve_device,
    thread_budget,
    warm_up,
)
from latentlab.core import distributed as dist_ops
from latentlab.core import partial_labels, precision
from latentlab.core.distributed import Distributed
from latentlab.core.errors import LatentLabError
from latentlab.core.inference import check_compatible
from latentlab.core.metrics import validation_terms
from latentlab.core.models import registry
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.registry import Family, StepContext
from latentlab.core.training_types import (
    RESUME_FREE_SETTINGS,
    Progress,
    RunState,
    Snapshot,
    TrainConfig,
    TrainControl,
    TrainResult,
)

__all__ = ["Progress", "RunState", "Snapshot", "TrainConfig", "TrainControl", "TrainResult",
           "check_resumable", "train", "warm_up"]

# Above this size an epoch's shuffled copy of the training images would double too much
# memory; batches are then gathered one at a time instead.
_EPOCH_GATHER_MAX_BYTES = 512 * 1024**2
# A distributed run agrees on a cancel every this many steps (each check is a collective).
_CANCEL_CHECK_STEPS = 16
_PAUSE_POLL_S = 0.25


def _load_initial(model: LatentModel, initial: LatentModel) -> None:
    try:
        model.load_state_dict(initial.state_dict())
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "different layers"
        raise LatentLabError(
            "the model to continue training from does not fit the chosen model settings "
            f"({detail}); keep its family and architecture, or start a new model"
        ) from None


def train(
    model_config: ModelConfig,
    data: Dataset,
    config: TrainConfig,
    control: TrainControl | None = None,
    initial: LatentModel | None = None,
    resume: RunState | None = None,
    distributed: Distributed | None = None,
) -> Generator[Progress | Snapshot | RunState, None, TrainResult]:
    """Train a model of ``model_config`` on ``data``; ``initial`` starts from given weights.

    A generator: it yields :class:`Progress` (at most every ``progress_interval_s``, plus
    one closing each epoch with validation terms) and :class:`Snapshot` (about every
    ``snapshot_interval_s`` and once at the end), and returns a :class:`TrainResult`
    whose model is on the CPU in eval mode. Like any generator it starts on the first
    ``next()``, so setting errors (:class:`LatentLabError`) are raised there.

    ``history`` holds one dict per finished epoch: ``epoch``, ``train`` and ``val`` (dicts of
    every term the family reports; a variational family's ``val`` adds ``neg_elbo``), the
    family's schedule values at the epoch's end (the VAEs' ``kl_weight``), ``images_per_s``
    (training only) and ``seconds`` (training and validation, pauses excluded).

    With ``config.checkpoint_every`` N > 0 it also yields a :class:`RunState` after every Nth
    epoch (no more often than ``checkpoint_interval_s``): weights, every optimiser's state,
    counters, both random streams and the history. ``resume=`` such a state goes on from
    there and ends exactly as the uninterrupted run would have (bit for bit on a CPU with the
    same thread count); settings that would change the result must be the same
    (:func:`check_resumable`).

    ``distributed`` (a started :class:`~latentlab.core.distributed.Distributed`, one per
    process of a torchrun launch) makes this process train its share of every global batch
    of ``config.batch_size`` items, with gradients summed over the processes (see
    :mod:`latentlab.core.distributed`); every process yields and returns the same history,
    and the caller lets rank 0 alone write. ``config.precision`` and ``config.compile``
    are applied as :mod:`latentlab.core.precision` describes.
    """
    control = control if control is not None else TrainControl()
    family = registry.get(model_config.family)
    check_compatible(model_config, data)
    _check_learning_rates(family, config)
    device = resolve_device(config.device)
    config = replace(config, precision=precision.resolve(config.precision, device, family))
    if resume is not None:
        check_resumable(resume, model_config, data, config)
    if config.labelled is not None and not family.capabilities.classifies:
        partial_labels.check_labelled(config.labelled, data.labels, data.num_classes, family_name=family.name,
                                      classifies=False)
    precision.check_precision(config.precision, device)
    if config.compile:
        precision.check_compile(config.compile)
    if distributed is not None:
        dist_ops.check_supported(dict(model_config.options), config.batch_size, distributed.world_size)
        dist_ops.check_same_data(data.fingerprint, device)
    train_idx, val_idx = data.split(config.val_fraction, config.seed)
    rng = PrivateRandom(config.seed, device)
    with thread_budget(config.threads):
        from latentlab.core.models import build_model  # looked up per run: a replaced one is used

        rng.enter()
        try:
            model = build_model(model_config)  # initialised from the run's own seeded stream
            if initial is not None:
                _load_initial(model, initial)
        finally:
            rng.leave()
        if not family.capabilities.trainable:
            if resume is not None:
                raise LatentLabError(f"the {family.name} family is fitted in one go; there is no run to resume")
            return (yield from _fit_closed_form(family, model, data, train_idx, val_idx, control))
        if distributed is not None and distributed.rank:
            rng = PrivateRandom(dist_ops.rank_seed(config.seed, distributed.rank), device)  # noise of its own
        run = _SGDRun(family, model, data, train_idx, val_idx, config, control, device, rng, distributed)
        if resume is not None:
            run.restore(resume)
        return (yield from run.run())


def check_resumable(state: RunState, model_config: ModelConfig, data: Dataset, config: TrainConfig) -> None:
    """Raise LatentLabError naming every setting in which a resumed run differs from its state.

    Precisions are compared as trained (:func:`latentlab.core.precision.resolve` on the run's
    device): an ``"auto"`` that comes to float32 resumes a run saved as ``"fp32"``.
    """
    problems = []
    if state.model_config != model_config.to_dict():
        saved, now = state.model_config, model_config.to_dict()
        keys = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        problems += [f"model {k} {_show(saved.get(k))} (now {_show(now.get(k))})" for k in keys]
    now = config.to_dict()
    saved = {**TrainConfig().to_dict(), **state.train_config}  # a setting newer than the file: its default
    family, device = registry.get(model_config.family), resolve_device(config.device)
    for settings in (saved, now):
        settings["precision"] = precision.resolve(str(settings["precision"]), device, family)
    keys = sorted(k for k in set(saved) | set(now) if k not in RESUME_FREE_SETTINGS
                  and _plain(saved.get(k)) != _plain(now.get(k)))
    problems += [f"{k} {_show(saved.get(k))} (now {_show(now.get(k))})" for k in keys]
    if state.data_fingerprint != data.fingerprint:
        problems.append("the data set (its contents differ)")
    if problems:
        raise LatentLabError("cannot resume: the interrupted run was trained with "
                             + "; ".join(problems) + "; use its settings, or start a new run")
    if state.epoch > config.epochs:
        raise LatentLabError(f"cannot resume: the saved run has trained {state.epoch} epochs, "
                             f"more than the {config.epochs} asked for")


def _plain(value: Any) -> Any:
    """Tuples as lists, so settings read back from JSON compare equal to the live ones."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    return "unset" if value is None else str(_plain(value))


def _check_learning_rates(family: Family, config: TrainConfig) -> None:
    unknown = sorted(set(config.lrs) - set(family.optimizer_names))
    if unknown:
        raise LatentLabError(
            f"learning rates were given for optimisers the {family.name} family does not have: "
            f"{', '.join(unknown)} (its optimisers: {', '.join(family.optimizer_names)})")


def _labels(family: Family, data: Dataset, idx: torch.Tensor) -> torch.Tensor | None:
    """The labels of ``idx`` when the family's step uses labels (and the data has them)."""
    if not family.capabilities.uses_labels or data.labels is None:
        return None
    return data.labels[idx]


def _partial(family: Family, data: Dataset, y_train: torch.Tensor | None,
             config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Training labels with all but ``config.labelled`` unlabelled, and the labelled items' indices."""
    assert config.labelled is not None
    partial_labels.check_labelled(config.labelled, y_train, data.num_classes, family_name=family.name,
                                  classifies=family.capabilities.classifies)
    assert y_train is not None
    kept = partial_labels.keep_labels(y_train, config.labelled, data.num_classes, config.seed)
    return kept, torch.nonzero(kept != partial_labels.UNLABELLED).flatten()


def _fit_closed_form(
    family: Family, model: LatentModel, data: Dataset, train_idx: torch.Tensor, val_idx: torch.Tensor,
    control: TrainControl,
) -> Generator[Progress | Snapshot, None, TrainResult]:
    """PCA and other fitted models: one closed-form "epoch" on the training split (CPU)."""
    if control.cancelled:
        return TrainResult(model=model.eval(), status="cancelled", message="Training was cancelled before it started.")
    start = time.perf_counter()
    x_train, y_train = data.images[train_idx], _labels(family, data, train_idx)
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - start
    train_terms = validation_terms(family, model, x_train, y_train, batch_size=1000)
    val = (validation_terms(family, model, data.images[val_idx], _labels(family, data, val_idx), batch_size=1000)
           if len(val_idx) else None)
    rate = len(train_idx) / max(fit_s, 1e-9)
    entry = {"epoch": 1, "train": {k: train_terms[k] for k in family.terms}, "val": val or {},
             **family.schedule_values(model, StepContext(1, 1, 1, 1, 1)),
             "images_per_s": rate, "seconds": time.perf_counter() - start}
    yield Progress(epoch=1, epochs=1, step=1, steps_per_epoch=1, terms=dict(entry["train"]),
                   images_per_s=rate, eta_s=0.0, val=val, epoch_done=True, entry=copy.deepcopy(entry))
    yield Snapshot(state=cpu_state(model), epoch=1, step=1)
    return TrainResult(model=model.cpu().eval(), history=[entry])


class _SGDRun:
    """One gradient-descent training run; :meth:`run` is the generator behind :func:`train`."""

    def __init__(self, family: Family, model: LatentModel, data: Dataset, train_idx: torch.Tensor,
                 val_idx: torch.Tensor, config: TrainConfig, control: TrainControl, device: torch.device,
                 rng: PrivateRandom, distributed: Distributed | None = None) -> None:
        self.family = family
        self.model = model.to(device).train()
        # NHWC for conv models on CUDA; batches sliced from channels-last data keep the layout.
        layout = precision.memory_format(model.config, device)
        if layout is not None:
            self.model = self.model.to(memory_format=layout)
        self.dist = distributed
        self.sync: dist_ops.GradientSync | None = None
        if distributed is not None:
            dist_ops.broadcast_state(self.model)  # equal start everywhere, whatever each process built
            self.sync = dist_ops.GradientSync(self.model, device)
        if config.compile:
            precision.compile_model(self.model, config.compile)
        self.autocast = lambda: precision.autocast(config.precision, device)
        self.scaler = precision.make_scaler(config.precision, device)
        self.checked_scaler = self.scaler is None
        self.rng = rng
        self.config, self.control, self.device = config, control, device
        # Moved to the device once; every batch is then a slice of device memory.
        self.x_train = data.images[train_idx].to(device)
        if layout is not None:
            self.x_train = self.x_train.contiguous(memory_format=layout)
        y_train = _labels(family, data, train_idx)
        self.labelled: torch.Tensor | None = None  # indices of the labelled pool (semi-supervised)
        if config.labelled is not None:
            y_train, self.labelled = _partial(family, data, y_train, config)
            self.labelled = self.labelled.to(device)
        self.y_train = _to(y_train, device)
        self.x_val = data.images[val_idx].to(device)
        if layout is not None:
            self.x_val = self.x_val.contiguous(memory_format=layout)
        self.y_val = _to(_labels(family, data, val_idx), device)
        self.n = int(self.x_train.shape[0])
        self.batch = min(config.batch_size, self.n)
        self.world = distributed.world_size if distributed is not None else 1
        # A distributed run drops an epoch's last batch when it is too small to give every
        # process an item (as DistributedSampler with drop_last does, for that batch alone).
        full, tail = divmod(self.n, self.batch)
        self.steps_per_epoch = full + (1 if tail >= self.world else 0)
        if self.steps_per_epoch == 0:
            raise LatentLabError(f"the training split has {self.n} items, fewer than the {self.world} processes")
        self.gather_epoch = 2 * self.x_train.element_size() * self.x_train.nelement() <= _EPOCH_GATHER_MAX_BYTES
        self.terms = family.terms
        self.train_step = family.train_step
        self.optimizers = family.optimizers(model, config)
        if set(self.optimizers) != set(family.optimizer_names):
            raise LatentLabError(
                f"the {family.name} family made optimisers {sorted(self.optimizers)}, "
                f"but declares {list(family.optimizer_names)}")
        self.checked_terms = False
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.epoch, self.step = 0, 0
        self.history: list[dict[str, Any]] = []
        self.last_good = (0, cpu_state(model))  # (step, state): where a divergence goes back to
        self.images_done = 0
        self.train_seconds = 0.0
        self.val_seconds = 0.0
        self.next_snapshot = 0.0
        self.first_epoch = 1
        self.last_checkpoint = time.monotonic()
        self.data_fingerprint = data.fingerprint
        self.model_config = model.config

    def restore(self, state: RunState) -> None:
        """Go on from a :class:`RunState`: weights, optimisers, counters, random streams, history."""
        try:
            self.model.load_state_dict(state.model)
            for name, opt in self.optimizers.items():
                if name not in state.optimizers:
                    raise LatentLabError(f"cannot resume: the saved run has no state for optimiser '{name}'")
                opt.load_state_dict(state.optimizers[name])
            self.shuffle.set_state(state.shuffle)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise LatentLabError(f"cannot resume: the saved run does not fit this model ({exc})") from None
        self.rng.set_state(state.rng)
        if self.dist is not None and self.dist.rank:
            # Every process restored rank 0's stream; each goes on with noise of its own.
            seed = dist_ops.rank_seed(self.config.seed + state.step, self.dist.rank)
            self.rng = PrivateRandom(seed, self.device)
        self.first_epoch = state.epoch + 1
        self.epoch, self.step = state.epoch, state.step
        self.history = [dict(h) for h in state.history]
        self.last_good = (self.step, cpu_state(self.model))
        self.images_done = int(state.counters.get("images_done", 0))
        self.train_seconds = float(state.counters.get("train_seconds", 0.0))
        self.val_seconds = float(state.counters.get("val_seconds", 0.0))

    def _run_state(self) -> RunState:
        """The run as it stands at an epoch's end (called with the run's random stream in)."""
        return RunState(
            epoch=self.epoch, step=self.step, model=cpu_state(self.model),
            optimizers={name: _cpu_copy(opt.state_dict()) for name, opt in self.optimizers.items()},
            shuffle=self.shuffle.get_state(), rng=tuple(_cpu_copy(list(self.rng.get_state()))),  # type: ignore[arg-type]
            history=copy.deepcopy(self.history), model_config=self.model_config.to_dict(),
            train_config=self.config.to_dict(), data_fingerprint=self.data_fingerprint,
            counters={"images_done": self.images_done, "train_seconds": self.train_seconds,
                      "val_seconds": self.val_seconds})

    def _checkpoint_due(self, epoch: int) -> bool:
        every = self.config.checkpoint_every
        if not every or epoch % every:
            return False
        return time.monotonic() - self.last_checkpoint >= self.config.checkpoint_interval_s

    # -- the generator ------------------------------------------------------------------
    def run(self) -> Generator[Progress | Snapshot | RunState, None, TrainResult]:
        status, message = "finished", ""
        kernels = fast_linear_layers(self.model) if self.device.type == "cpu" else nullcontext()
        self.rng.enter()
        try:
            with kernels:
                self.next_snapshot = time.perf_counter() + self.config.snapshot_interval_s
                for epoch in range(self.first_epoch, self.config.epochs + 1):
                    self.epoch = epoch
                    outcome = yield from self._epoch(epoch)
                    if outcome is not None:
                        status, message = outcome
                        break
        finally:
            self.rng.leave()
            if self.sync is not None:
                self.sync.close()
        final = cpu_state(self.model)
        if status != "diverged" and not all_finite(final):
            status, message = self._diverged(self.epoch, "NaN")
            final = cpu_state(self.model)
        yield Snapshot(state=final, epoch=self.epoch, step=self.step)
        self.model.to("cpu").eval()
        return TrainResult(model=self.model, history=self.history, status=status, message=message)

    def _epoch(self, epoch: int) -> Generator[Progress | Snapshot | RunState, None, tuple[str, str] | None]:
        """Train one epoch; returns ``(status, message)`` when the run has to stop."""
        cfg, control = self.config, self.control
        total = torch.zeros(len(self.terms), device=self.device)
        seen, paused = 0, 0.0
        start = time.perf_counter()
        next_report = start + cfg.progress_interval_s
        for i, (xb, yb, total_items) in enumerate(self._batches()):
            if control.paused:
                waited = self._wait_while_paused()  # paused time counts neither in rates nor timers
                paused += waited
                next_report += waited
                self.next_snapshot += waited
            if self._cancelled(i):
                self.images_done += seen
                self.train_seconds += time.perf_counter() - start - paused
                return "cancelled", f"Training was cancelled at epoch {epoch}, step {self.step}."
            if self.sync is not None:
                self.sync.set_share(xb.shape[0], total_items)
            total.add_(self._step(xb, yb, StepContext(epoch, cfg.epochs, i, self.steps_per_epoch, self.step)),
                       alpha=xb.shape[0])
            seen += xb.shape[0]
            now = time.perf_counter()
            if now < next_report and now < self.next_snapshot:
                continue
            terms = dict(zip(self.terms, (total / seen).tolist()))  # the only read-back: a report is due
            if not all(map(math.isfinite, terms.values())):
                if self.dist is None:
                    return self._diverged(epoch, _what_broke(terms))
                continue  # processes report at their own moments: the epoch's end decides together
            if now >= next_report and i + 1 < self.steps_per_epoch:  # the epoch's close reports last
                next_report = now + cfg.progress_interval_s
                yield from self._emit(self._progress(epoch, terms, seen, now - start - paused))
            if now >= self.next_snapshot:
                snapshot = self._snapshot(epoch)
                if snapshot is None:
                    if self.dist is None:
                        return self._diverged(epoch, "NaN")
                    continue
                self.next_snapshot = time.perf_counter() + cfg.snapshot_interval_s
                yield from self._emit(snapshot)
        train_s = time.perf_counter() - start - paused
        if self.dist is not None:  # the epoch's terms over the global batches, as one process would have them
            summed = dist_ops.sum_all(torch.cat([total, torch.tensor([float(seen)], device=self.device)]))
            total, seen = summed[:-1], int(summed[-1].item())
        self.images_done += seen
        self.train_seconds += train_s
        return (yield from self._close_epoch(epoch, dict(zip(self.terms, (total / seen).tolist())), seen, train_s))

    def _cancelled(self, i: int) -> bool:
        """Whether to stop now; processes agree on it every few steps (a collective each time)."""
        if self.dist is None:
            return self.control.cancelled
        if i % _CANCEL_CHECK_STEPS:
            return False
        return dist_ops.any_true(self.control.cancelled, self.device)

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, int]]:
        """This epoch's batches (this process's share, and the global batch's size), each with a
        few items of the labelled pool when labels are scarce."""
        if self.labelled is None:
            yield from self._shuffled()
            return
        extra = partial_labels.labelled_per_batch(self.batch, len(self.labelled))
        pool = self.labelled[torch.randperm(len(self.labelled), generator=self.shuffle).to(self.device)]
        at = 0
        for x, y, items in self._shuffled():
            if at + extra > len(pool):
                pool, at = self.labelled[torch.randperm(len(self.labelled), generator=self.shuffle).to(self.device)], 0
            lo, hi = self._share(at, at + extra)
            idx = pool[lo:hi]
            at += extra
            assert y is not None  # a semi-supervised run always has labels
            yield (torch.cat([x, self.x_train.index_select(0, idx)]), torch.cat([y, self.y_train.index_select(0, idx)]),
                   items + extra)

    def _share(self, lo: int, hi: int) -> tuple[int, int]:
        """This process's part of the items ``[lo, hi)`` (all of them for one process)."""
        if self.dist is None:
            return lo, hi
        a, b = dist_ops.share(hi - lo, self.dist.rank, self.world)
        return lo + a, lo + b

    def _shuffled(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, int]]:
        """This epoch's shuffled batches: slices of one gathered copy, or gathered one by one.

        Every process draws the same permutation (the shuffle is seeded alike) and takes its
        own contiguous share of each global batch: a distributed sampler over device memory.
        """
        order = torch.randperm(self.n, generator=self.shuffle).to(self.device)
        x, y = self.x_train, self.y_train
        if self.gather_epoch:
            x = x.index_select(0, order)
            y = None if y is None else y.index_select(0, order)
        for start in range(0, self.n, self.batch):
            items = min(self.n, start + self.batch) - start
            if items < self.world:
                continue  # see steps_per_epoch
            lo, hi = self._share(start, start + items)
            if self.gather_epoch:
                yield x[lo:hi], (None if y is None else y[lo:hi]), items
            else:
                idx = order[lo:hi]
                yield x.index_select(0, idx), (None if y is None else y.index_select(0, idx)), items

    def _step(self, x: torch.Tensor, y: torch.Tensor | None, ctx: StepContext) -> torch.Tensor:
        """One step of the family's own; returns the batch's terms as a tensor (no read-back)."""
        try:
            with self.autocast(), precision.scaling(self.scaler) as lent:
                out = self.train_step(self.model, x, y, self.optimizers, ctx)
        except Exception as exc:
            failure = precision.compile_failure(exc, self.config.compile) if self.config.compile else None
            if failure is not None:
                raise failure from None
            raise
        if self.scaler is not None:
            if not self.checked_scaler:
                if lent is None or not lent.used:
                    raise LatentLabError(f"the {self.family.name} family's training step backpropagates on its own, "
                                         "without the loss scaling fp16 needs; use bf16 or fp32")
                self.checked_scaler = True
            self.scaler.update()
        self.step += 1
        if not self.checked_terms:
            missing = [k for k in self.terms if k not in out]
            if missing:
                raise LatentLabError(f"the {self.family.name} family's training step did not report "
                                     f"{', '.join(missing)}")
            self.checked_terms = True
        # Kept as a tensor: reading a value back every step would stall an accelerator.
        return torch.stack([out[k].detach() for k in self.terms])

    def _close_epoch(self, epoch: int, terms: dict[str, float], seen: int,
                     train_s: float) -> Generator[Progress | Snapshot | RunState, None, tuple[str, str] | None]:
        """Check, validate, keep a last good copy, record history, report the epoch."""
        if not all(map(math.isfinite, terms.values())):
            return self._diverged(epoch, _what_broke(terms))
        if self.dist is not None:
            # Buffers, and weights trained apart (a GAN's regressor), as rank 0 has them.
            dist_ops.broadcast_state(self.model)
        val, val_s = self._validate()
        if val is not None and self.dist is not None:  # every process decides on rank 0's numbers
            val = dict(zip(val, dist_ops.broadcast_values(list(val.values()), self.device)))
        if val is not None and not all(map(math.isfinite, val.values())):
            return self._diverged(epoch, _what_broke(val))
        state = cpu_state(self.model)
        if not all_finite(state):
            return self._diverged(epoch, "NaN")
        self.last_good = (self.step, state)
        rate = seen / max(train_s, 1e-9)
        end = StepContext(epoch, self.config.epochs, self.steps_per_epoch, self.steps_per_epoch, self.step)
        self.history.append({"epoch": epoch, "train": terms, "val": val or {},
                             **self.family.schedule_values(self.model, end),
                             "images_per_s": rate, "seconds": train_s + val_s})
        yield from self._emit(Progress(
            epoch=epoch, epochs=self.config.epochs, step=self.step, steps_per_epoch=self.steps_per_epoch,
            terms=terms, images_per_s=rate, eta_s=self._eta(epoch, 0, rate, after_val=True), val=val,
            epoch_done=True, entry=copy.deepcopy(self.history[-1]), precision=self.config.precision))
        if self._checkpoint_due(epoch):
            self.last_checkpoint = time.monotonic()
            yield from self._emit(self._run_state())
        return None

    # -- helpers ----------------------------------------------------------------------
    def _emit(self, item: Progress | Snapshot | RunState) -> Generator[Progress | Snapshot | RunState, None, None]:
        """Yield with the caller's random stream in place, then take the run's back."""
        self.rng.leave()
        yield item
        self.rng.enter()

    def _wait_while_paused(self) -> float:
        """Block (without spinning) until resumed or cancelled; returns the seconds waited."""
        start = time.perf_counter()
        while self.control.paused and not self.control.cancelled:
            self.control.wait_if_paused(_PAUSE_POLL_S)
        return time.perf_counter() - start

    def _eta(self, epoch: int, seen: int, rate: float, after_val: bool = False) -> float:
        overall = self.images_done / self.train_seconds if self.train_seconds > 0 else rate
        left = (self.config.epochs - epoch) * self.n + (0 if after_val else self.n - seen)
        validations = self.config.epochs - epoch + (0 if after_val else 1)
        per_val = self.val_seconds / max(1, len(self.history))
        return left / max(overall, 1e-9) + validations * per_val

    def _progress(self, epoch: int, terms: dict[str, float], seen: int, seconds: float) -> Progress:
        seen *= self.world  # mid-epoch a process knows only its own share; the others keep pace
        rate = seen / max(seconds, 1e-9)
        return Progress(epoch=epoch, epochs=self.config.epochs, step=self.step,
                        steps_per_epoch=self.steps_per_epoch, terms=terms, images_per_s=rate,
                        eta_s=self._eta(epoch, seen, rate), precision=self.config.precision)

    def _snapshot(self, epoch: int) -> Snapshot | None:
        """A snapshot of finite weights (also kept as the last good copy), else None."""
        state = cpu_state(self.model)
        if not all_finite(state):
            return None
        self.last_good = (self.step, {k: v.clone() for k, v in state.items()})
        return Snapshot(state=state, epoch=epoch, step=self.step)

    def _validate(self) -> tuple[dict[str, float] | None, float]:
        if self.x_val.shape[0] == 0:
            return None, 0.0
        start = time.perf_counter()
        val = validation_terms(self.family, self.model, self.x_val, self.y_val, batch_size=max(self.batch, 1000))
        seconds = time.perf_counter() - start
        self.val_seconds += seconds
        return val, seconds

    def _diverged(self, epoch: int, what: str) -> tuple[str, str]:
        good_step, state = self.last_good
        self.model.load_state_dict(state)
        source = f"from step {good_step}" if good_step > 0 else "it started from"
        message = (f"Training diverged at epoch {epoch}, step {self.step} (loss became {what}); "
                   f"restored the weights {source}. Try a lower learning rate.")
        return "diverged", message


def _cpu_copy(value: Any) -> Any:
    """A deep copy with every tensor on the CPU, sharing no memory with the original."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(v) for v in value)
    return copy.deepcopy(value)


def _to(t: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if t is None else t.to(device)


def _what_broke(terms: dict[str, float]) -> str:
    return "NaN" if any(math.isnan(v) for v in terms.values()) else "infinite"
