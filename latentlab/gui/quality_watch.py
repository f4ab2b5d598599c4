"""Sample quality while a model trains: sample FD and class coverage, about every epoch.

:class:`QualityWatch` follows the :class:`~latentlab.gui.training_run.TrainingRun`. For a
trainable family whose decoder makes 28×28 grey images
(:func:`latentlab.core.quality.measurable`) it measures the newest weight snapshot when an
epoch closes, and the final weights when the run ends, as
:func:`latentlab.core.quality.sample_quality` does (in pieces it can stop between), on a
thread of its own (a one-job :class:`~latentlab.gui.workers.InferenceWorker` that builds its
own model from the snapshot): never on the GUI thread, never holding training up. An
epoch's request is skipped while a measurement still runs, or when measuring would take
more than about a sixth of the time (it shares a core with the GUI thread while the run
trains on the other); the final one
always runs.

It keeps the snapshot with the best (lowest) FD. When the run has ended and the best is
clearly better than the final weights, it asks ``ask_use_best(text, answered)`` (the
window's question, replaced by tests); "use the best" makes those weights the current,
unsaved model through ``use_weights(state)`` and cuts the run's history back to that epoch.

Measured values go into the run's history (``"quality"`` of each epoch's entry, so they
are saved with the model); warnings say when a discriminator has won outright
(:class:`~latentlab.core.models.adversarial.DiscriminatorWatch`) or when the samples have
collapsed onto a few classes for a sustained stretch. Everything shown travels as one
:class:`QualityState` in ``changed(state)``; a new run or another model starts over.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Signal

from latentlab.core.errors import LatentLabError
from latentlab.gui.workers import InferenceWorker, at_once

#: The samples drawn per measurement (``quality.sample_quality``'s bounded default).
DEFAULT_SAMPLES = 1000
#: After a measurement that took t seconds, the next epoch's waits until 5·t have passed:
#: measuring then takes at most about a sixth of the time (of the core the GUI thread uses).
PAUSE_FACTOR = 5.0
#: While ``held()`` says so (the probe is being dragged), an epoch's measurement is skipped
#: unless the last one began at least this long ago: each measurement takes the processor the
#: drag's frames need, and its reading would wait for the side panels' slower redraws anyway.
HELD_INTERVAL_S = 4.0
#: The best snapshot is offered when its FD is lower than the final weights' by this share.
BEST_MARGIN = 0.02
#: Mode collapse: at most this share of the classes covered ...
COLLAPSE_SHARE = 0.5
#: ... in this many measurements in a row ...
COLLAPSE_MEASUREMENTS = 3
#: ... none of them in the run's first epochs (an untrained generator draws a few blobs).
COLLAPSE_SKIP_EPOCHS = 2
#: Generated images go through the classifier in these pieces (sample_quality's own batches,
#: so the numbers match it exactly); the job can stop between them.
CHUNK = 500
#: The key of the measured values in a history entry.
HISTORY_KEY = "quality"

NOT_MEASURED = ("Sample FD and class coverage are measured while a model that makes 28×28 grey "
                "images (such as MNIST digits) trains.")


@dataclass(frozen=True)
class Measurement:
    """One measurement: ``epoch`` (numbered on from the model's earlier ones), the FD, how many
    of ``num_classes`` classes the samples cover, their class entropy (nats) and the sample
    count; ``final`` when taken on the weights training ended with."""

    epoch: int
    sample_fd: float
    class_coverage: int
    num_classes: int
    class_entropy: float
    samples: int
    final: bool = False

    def to_history(self) -> dict[str, Any]:
        return {"sample_fd": self.sample_fd, "class_coverage": self.class_coverage,
                "num_classes": self.num_classes, "class_entropy": self.class_entropy, "samples": self.samples}

    @classmethod
    def from_history(cls, entry: Mapping[str, Any]) -> Measurement | None:
        """The measurement a history entry holds, or None (none, or not numbers)."""
        values = entry.get(HISTORY_KEY) if isinstance(entry, Mapping) else None
        if not isinstance(values, Mapping):
            return None
        try:
            return cls(int(entry["epoch"]), float(values["sample_fd"]), int(values["class_coverage"]),
                       int(values.get("num_classes", 10)), float(values["class_entropy"]),
                       int(values.get("samples", 0)))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class QualityState:
    """What the quality display shows.

    ``points`` are the measurements by epoch (a loaded model's saved ones first), ``latest``
    the newest, ``best`` the best of this run whose weights are kept, ``chosen`` the one whose
    weights were taken instead of the final ones, ``warnings`` sentences with what to try,
    ``note`` a line on what is happening, ``active`` whether the model on screen is measured.
    """

    active: bool = False
    points: tuple[Measurement, ...] = ()
    latest: Measurement | None = None
    best: Measurement | None = None
    chosen: Measurement | None = None
    warnings: tuple[str, ...] = ()
    note: str = NOT_MEASURED
    measuring: int | None = None   # the epoch being measured now


def discriminator_warning(streak: int) -> str:
    """The window's words for a discriminator that has won (the CLI names its flags instead)."""
    from latentlab.core.models.adversarial import D_WIN_LOSS

    return (f"The discriminator has won outright: its loss stayed below {D_WIN_LOSS} for {streak} epochs, "
            "so the generator learns almost nothing. Try a lower discriminator learning rate, spectral "
            "normalisation (option spectral_norm), a larger latent or generator, or a smaller batch.")


def collapse_warning(points: Sequence[Measurement], adversarial: bool) -> str:
    """Words for samples that kept to a few classes over ``points`` (the stretch, oldest first)."""
    last = points[-1]
    first = points[0].epoch
    span = f"epoch {first}" if first == last.epoch else f"epochs {first}–{last.epoch}"
    head = (f"Mode collapse: the samples covered at most {max(p.class_coverage for p in points)} of "
            f"{last.num_classes} classes in {len(points)} measurements in a row ({span}); class entropy "
            f"{last.class_entropy:.2f} (even: {_even_entropy(last.num_classes):.2f}).")
    if adversarial:
        tips = ("Try a lower learning rate, a larger batch, spectral normalisation (option spectral_norm) or "
                "the generator's moving average (option ema); at the end you can keep the best snapshot.")
    else:
        tips = "Try more epochs, a larger latent size, a larger network or a smaller β."
    return f"{head} {tips}"


def _even_entropy(classes: int) -> float:
    import math

    return math.log(max(1, classes))


def _measure_job(config: Any, state: Mapping[str, Any], real: Any, samples: int,
                 cache: dict[str, Any]) -> Callable[[Any], Any]:
    """A job for the inference worker: a model of its own from ``state``, then its sample quality.

    The numbers are :func:`latentlab.core.quality.sample_quality`'s, computed from the same
    public pieces in the same batches, so the job can stop between pieces (closing the
    window waits for it) and the real images' features are computed once per run (``cache``,
    touched by the worker's thread alone).
    """

    def job(should_stop: Callable[[], bool]) -> dict[str, Any] | None:
        import torch

        from latentlab.core import inference, quality
        from latentlab.core.classifier import bundled_classifier

        started = time.perf_counter()
        clf = bundled_classifier()
        if not quality.measurable(config):
            raise LatentLabError("sample quality is measured on 28×28 grey images only")
        if "real" not in cache:
            parts = []
            for lo in range(0, len(real), CHUNK):
                if should_stop():
                    return None
                parts.append(quality.classifier_features(real[lo:lo + CHUNK], clf))
            cache["real"] = torch.cat(parts)
        model = inference.model_from_state(config, state)
        if should_stop():
            return None
        fake = quality.generate(model, samples, seed=0)
        features, predictions = [], []
        for lo in range(0, len(fake), CHUNK):
            if should_stop():
                return None
            part = fake[lo:lo + CHUNK]
            features.append(quality.classifier_features(part, clf))
            predictions.append(quality.predict_classes(part, clf))
        coverage = quality.class_coverage(torch.cat(predictions), clf.config.num_classes)
        return {"sample_fd": quality.frechet_distance(torch.cat(features), cache["real"]),
                "class_coverage": coverage.covered, "num_classes": coverage.num_classes,
                "class_entropy": coverage.entropy, "samples": samples,
                "seconds": time.perf_counter() - started}

    return job


def real_images(plan: Any, samples: int) -> Any:
    """Up to ``samples`` real images to compare with: the run's validation split (its training
    split when it has no validation)."""
    data, tc = plan.data, plan.train_config
    _train, val = data.split(tc.val_fraction, tc.seed)
    if len(val) < 2:
        val = _train
    return data.images[val[:samples]]


class QualityWatch(QObject):
    """Measures the training model's samples in the background (see the module doc).

    ``changed(QualityState)`` carries everything to show. ``ask_use_best(text, answered)``
    asks whether to use the best snapshot and calls ``answered(bool)`` (possibly later); it
    may return the dialog, which is closed when a new run starts. ``use_weights(state)``
    makes weights the current model's, True when it did.
    """

    changed = Signal(object)

    def __init__(self, training: Any, use_weights: Callable[[Mapping[str, Any]], bool],
                 parent: QObject | None = None, samples: int = DEFAULT_SAMPLES) -> None:
        super().__init__(parent)
        self.samples = samples
        self.use_weights = use_weights
        self.ask_use_best: Callable[[str, Callable[[bool], None]], Any] = lambda _text, answered: answered(False)
        self.held: Callable[[], bool] = lambda: False   # measure less often meanwhile (HELD_INTERVAL_S)
        self.pace: Callable[[Callable[[], None]], None] = at_once   # how answers are applied
        self._training = training
        self._worker: InferenceWorker | None = None
        self._state = QualityState()
        self._run_id: int | None = None
        self._progress: Any = None
        self._rewinding = False
        self._question: Any = None
        self._token = 0                      # a new run or model: stale answers are dropped
        self._start(None, ())
        training.model.runChanged.connect(self._on_run)
        training.snapshotReady.connect(self._on_snapshot)
        training.resultReady.connect(self._on_result)

    @property
    def state(self) -> QualityState:
        return self._state

    @property
    def busy(self) -> bool:
        """True while a measurement is on its way."""
        return self._in_flight > 0

    # -- a run or a model ------------------------------------------------------------------
    def _start(self, plan: Any, history: Sequence[Mapping[str, Any]]) -> None:
        from latentlab.core import quality

        self._token += 1
        self._close_question()
        self._in_flight = 0
        self._latest_state: Mapping[str, Any] | None = None    # the newest snapshot of this run
        self._measured_state: Mapping[str, Any] | None = None  # the last one sent to be measured
        self._best_state: Mapping[str, Any] | None = None
        self._pause_until = 0.0
        self._submitted_at = -HELD_INTERVAL_S   # when the last measurement was sent (monotonic s)
        self._finished = False               # the run ended with every epoch it was asked for
        self._warned: dict[str, str] = {}
        self._plan = plan
        self._offset = 0 if plan is None else plan.first_epoch - 1
        config = None if plan is None else plan.model_config
        self._active = config is not None and config.capabilities.trainable and quality.measurable(config)
        self._adversarial = config is not None and config.capabilities.adversarial
        self._d_watch = self._discriminator_watch(config) if self._adversarial else None
        self._real = None
        self._real_cache: dict[str, Any] = {}   # the real images' features, once measured
        if self._active:
            try:
                self._real = real_images(plan, self.samples)
            except LatentLabError:   # too few images to split: training says so itself
                self._active = False
        prior = tuple(m for m in map(Measurement.from_history, history) if m is not None)
        if self._active:
            note = "The first measurement comes when an epoch has closed."
        elif config is not None and not config.capabilities.trainable:
            note = "Not measured: this model is fitted in one go, not trained epoch by epoch."
        elif plan is not None:
            note = "Not measured: the digit classifier reads 28×28 grey images only."
        elif prior:
            note = "Measured while this model trained."
        else:
            note = NOT_MEASURED
        self._state = QualityState(active=self._active, points=prior, latest=prior[-1] if prior else None, note=note)
        self._run_points: list[Measurement] = []
        self._publish()

    @staticmethod
    def _discriminator_watch(config: Any) -> Any:
        from latentlab.core.models.adversarial import DiscriminatorWatch

        return DiscriminatorWatch.for_config(config)

    def _on_run(self, run: Any) -> None:
        if run.run_id != self._run_id:
            self._run_id = run.run_id
            plan = self._training.plan
            if run.status != "idle" and plan is not None:
                self._start(plan, plan.prior_history)   # a run starts: measure it if its samples can be
            elif not self._rewinding:
                # Another model (opened, or a new one): its own saved measurements, if any.
                self._start(None, run.history)
        progress = run.progress
        if progress is not None and progress is not self._progress:
            self._progress = progress
            if progress.epoch_done:
                self.epoch_closed(progress, run.epoch_offset + progress.epoch)

    def _on_snapshot(self, state: Mapping[str, Any]) -> None:
        self._latest_state = state

    # -- measuring -------------------------------------------------------------------------
    def epoch_closed(self, progress: Any, epoch: int) -> None:
        """Epoch ``epoch`` closed with ``progress`` (its report): watch the discriminator and
        measure the newest snapshot unless a measurement runs or it is too soon."""
        if self._d_watch is not None and self._d_watch.update(progress):
            self.warn("discriminator", discriminator_warning(self._d_watch.streak))
        if not self._active or self._latest_state is None or self._latest_state is self._measured_state:
            return
        if progress.epoch >= progress.epochs:
            return   # the run's end measures the final weights
        now = time.monotonic()
        if self._in_flight or now < self._pause_until:
            return
        if self.held() and now - self._submitted_at < HELD_INTERVAL_S:
            return
        self._submit(self._latest_state, epoch, final=False)

    def _on_result(self, model: Any) -> None:
        """Training ended (finished or stopped): measure the weights it ended with."""
        from latentlab.core.device import cpu_state

        self._annotate(self._run_points)   # the run's history was just replaced by the trainer's
        if not self._active:
            return
        outcome = self._training.value.outcome
        epoch = outcome[1] if outcome is not None else (self._run_points[-1].epoch if self._run_points else 1)
        self._finished = outcome is None or outcome[0] == "finished"
        self._submit(cpu_state(model), epoch, final=True)

    def _submit(self, state: Mapping[str, Any], epoch: int, final: bool) -> None:
        if self._worker is None:
            self._worker = InferenceWorker()
            self._worker.pace = lambda call: self.pace(call)
        self._measured_state = state
        self._submitted_at = time.monotonic()
        self._in_flight += 1
        token = self._token
        job = _measure_job(self._plan.model_config, state, self._real, self.samples, self._real_cache)
        self._worker.submit("final" if final else "epoch", job,
                            on_result=functools.partial(self._on_measured, token, epoch, final, state),
                            on_error=functools.partial(self._on_failed, token))
        self._set(measuring=epoch)

    def _on_measured(self, token: int, epoch: int, final: bool, state: Mapping[str, Any],
                     result: dict[str, Any] | None) -> None:
        if token != self._token:
            return
        self._in_flight = max(0, self._in_flight - 1)
        if result is None:
            self._set(measuring=self._state.measuring if self.busy else None)
            return
        self._pause_until = time.monotonic() + PAUSE_FACTOR * float(result.get("seconds", 0.0))
        self.record(Measurement(epoch, float(result["sample_fd"]), int(result["class_coverage"]),
                                int(result["num_classes"]), float(result["class_entropy"]),
                                int(result["samples"]), final), state)

    def _on_failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self._in_flight = max(0, self._in_flight - 1)
        self._set(measuring=self._state.measuring if self.busy else None,
                  note=f"Could not measure the samples: {message}")

    def record(self, m: Measurement, state: Mapping[str, Any] | None = None) -> None:
        """Take measurement ``m`` of weights ``state`` (kept when they are the best so far): show
        it, note it in the history, watch for a collapse, and offer the best after a final one."""
        points = [p for p in self._run_points if p.epoch != m.epoch]
        self._run_points = sorted([*points, m], key=lambda p: p.epoch)
        best = self._state.best
        if m.final and best is not None and best.epoch == m.epoch:
            best = None   # the final weights of that epoch stand for it now
            self._best_state = None
        if state is not None and (best is None or m.sample_fd < best.sample_fd):
            best, self._best_state = m, state
        prior = tuple(p for p in self._state.points if p.epoch <= self._offset)
        note = f"{m.samples} samples of the newest weights against real images, about every epoch."
        if m.final:
            note = f"Measured on the weights training ended with ({m.samples} samples)."
        measuring = self._state.measuring if self.busy and self._state.measuring != m.epoch else None
        self._state = replace(self._state, points=(*prior, *self._run_points), latest=m, best=best,
                              measuring=measuring, note=note)
        self._watch_coverage()
        if not m.final or self._finished:
            self._annotate([m])
        self._publish()
        if m.final:
            self._offer_best(m)

    def _annotate(self, points: Sequence[Measurement]) -> None:
        if points:
            self._training.annotate_epochs({p.epoch: {HISTORY_KEY: p.to_history()} for p in points})

    # -- warnings ---------------------------------------------------------------------------
    def warn(self, kind: str, text: str) -> None:
        """Show warning ``text`` (one per ``kind``) until a new run or another model."""
        if self._warned.get(kind) != text:
            self._warned[kind] = text
            self._set(warnings=tuple(self._warned.values()))

    def _watch_coverage(self) -> None:
        stretch = [p for p in self._run_points if p.epoch - self._offset > COLLAPSE_SKIP_EPOCHS]
        stretch = stretch[-COLLAPSE_MEASUREMENTS:]
        if len(stretch) < COLLAPSE_MEASUREMENTS or "collapse" in self._warned:
            return
        if all(p.class_coverage <= COLLAPSE_SHARE * p.num_classes for p in stretch):
            self._warned["collapse"] = collapse_warning(stretch, self._adversarial)
            self._state = replace(self._state, warnings=tuple(self._warned.values()))

    # -- the best snapshot ------------------------------------------------------------------
    def _offer_best(self, final: Measurement) -> None:
        best = self._state.best
        if best is None or best.final or self._best_state is None \
                or not best.sample_fd < final.sample_fd * (1 - BEST_MARGIN):
            return
        ended = "the final epoch has" if self._finished else \
            f"the weights training stopped with (epoch {final.epoch}) have"
        text = (f"Epoch {best.epoch} had the best sample FD ({best.sample_fd:.1f}) — {ended} "
                f"{final.sample_fd:.1f}. Use the best snapshot, or keep the final weights?")
        self._question = self.ask_use_best(text, functools.partial(self._answered, self._token))

    def _answered(self, token: int, use_best: bool) -> None:
        self._question = None
        if token != self._token or self._training.is_training:
            return   # another run or model since: the question no longer applies
        best, state = self._state.best, self._best_state
        if not use_best or best is None or state is None:
            self._set(note="Kept the final weights.")
            return
        if not self.use_weights(state):
            return
        history = tuple(h for h in self._training.value.history
                        if not isinstance(h.get("epoch"), int) or h["epoch"] <= best.epoch)
        self._rewinding = True
        try:   # the model now is the one of that epoch: later epochs leave its history
            self._training.reset(history, unsaved=True)
        finally:
            self._rewinding = False
        self._set(chosen=best, note=f"Using the snapshot of epoch {best.epoch} (sample FD {best.sample_fd:.1f}); "
                                    "save the model to keep it.")

    def _close_question(self) -> None:
        question, self._question = self._question, None
        if question is not None and hasattr(question, "close"):
            question.close()

    # -- publishing, shutting down ----------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        self._state = replace(self._state, **changes)
        self._publish()

    def _publish(self) -> None:
        self.changed.emit(self._state)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the measuring thread (bounded wait); True when it ended within ``timeout_ms``."""
        self._token += 1
        self._close_question()
        return True if self._worker is None else self._worker.shutdown(timeout_ms)
