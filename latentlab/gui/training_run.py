"""Training for the GUI: one run in a background worker, told as a :class:`~latentlab.gui.state.Run`.

:class:`TrainingRun` starts a :class:`~latentlab.gui.workers.TrainingWorker` on a core
:class:`~latentlab.core.plan.TrainingPlan`, pauses, resumes and stops it, and is the one
writer of the :class:`~latentlab.gui.state.RunModel`: the status, the history of finished
epochs as they close (numbered after the model's earlier ones), whether the weights are saved
and how the run ended. The weights themselves go to whoever listens: ``snapshotReady(state)``
while training, ``resultReady(model)`` at the end. The worker owns the model it trains.
Its :class:`~latentlab.gui.autosave_watch.RunAutosave` writes a checkpoint of the run from the
worker's thread; it is removed once the model is saved or let go.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from latentlab.gui.autosave_watch import RunAutosave
from latentlab.gui.state import Run, RunModel
from latentlab.gui.workers import TRAINING_SWITCH_INTERVAL_S, TrainingWorker, at_once



class TrainingRun(QObject):
    """The current model's training (see the module doc).

    Signals
    -------
    snapshotReady(dict): a detached copy of the newest weights, a few times a second.
    resultReady(object): the trained model (CPU, eval mode) when the run ends normally or is stopped.
    failed(str, str): title and message when training raised instead.
    """

    snapshotReady = Signal(object)
    resultReady = Signal(object)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, isolated: bool = False) -> None:
        super().__init__(parent)
        self.isolated = isolated   # train in a child process where the run allows it
        self.model = RunModel(self)
        self._worker: TrainingWorker | None = None
        self._plan: Any = None
        self._ids = 0
        self._saved_switch_interval: float | None = None
        self.autosave = RunAutosave()
        # How the worker's reports are applied: ``pace(call)`` runs ``call`` now or a little
        # later, in order (the controller's frame pacer, while the probe is dragged).
        self.pace: Callable[[Callable[[], None]], None] = at_once

    @property
    def value(self) -> Run:
        return self.model.value

    @property
    def is_training(self) -> bool:
        return self._worker is not None

    @property
    def plan(self) -> Any:
        """The core TrainingPlan of the current (or last) run, None before one."""
        return self._plan

    @property
    def worker(self) -> TrainingWorker | None:
        """The thread training now, or None."""
        return self._worker

    def _set(self, **changes: Any) -> None:
        self.model.set(self.value.with_changes(**changes))

    def reset(self, history: tuple[dict[str, Any], ...] = (), unsaved: bool = False) -> None:
        """Another model is current: its own history, and a new run id (views start over)."""
        self.autosave.discard()   # the model it belonged to is gone (the person was asked)
        self._ids += 1
        self.model.set(Run(history=tuple(history), unsaved=unsaved, run_id=self._ids))

    def set_unsaved(self, unsaved: bool) -> None:
        if not unsaved and self._worker is None:
            self.autosave.discard()   # saved, and no run goes on changing it
        if unsaved != self.value.unsaved:
            self._set(unsaved=unsaved)

    def annotate_epochs(self, notes: dict[int, dict[str, Any]]) -> None:
        """Add values measured after an epoch closed (its sample quality) to that epoch's history entry."""
        old = self.value.history
        history = tuple({**h, **notes[h["epoch"]]} if h.get("epoch") in notes else h for h in old)
        if any(a is not b for a, b in zip(history, old)):
            self._set(history=history)

    # -- control ------------------------------------------------------------------------
    def start(self, plan: Any, resume: Any = None) -> None:
        """Train by ``plan`` (a core TrainingPlan); its new epochs are numbered after its prior history.
        ``resume`` (a RunState of the same plan) goes on from there."""
        self._plan = plan
        worker = TrainingWorker(plan.model_config, plan.data, self.autosave.train_config(plan.train_config),
                                plan.initial, resume=resume, on_checkpoint=self.autosave.writer(plan),
                                isolated=self.isolated)
        worker.checkpointFailed.connect(self._on_checkpoint_failed)
        worker.progress.connect(self._on_progress)
        worker.snapshotReady.connect(self._on_snapshot)
        worker.resultReady.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        # While a run goes on, the re-encodes and quality measurements it causes run on worker
        # threads here (and a trainer too when it cannot go to a child): the GUI thread gets the
        # interpreter lock back from them sooner with a short switch interval.
        self._shorten_switch_interval(True)
        self._ids += 1
        history = plan.prior_history if resume is None else plan.full_history(resume.history)
        self.model.set(Run(status="running", history=tuple(history),
                           epoch_offset=plan.first_epoch - 1, unsaved=True, run_id=self._ids))
        worker.start()

    def pause(self) -> None:
        if self._worker is not None and self.value.status == "running":
            self._worker.pause()
            self._set(status="paused")

    def resume(self) -> None:
        if self._worker is not None and self.value.status == "paused":
            self._worker.resume()
            self._set(status="running")

    def stop(self) -> None:
        """Ask training to stop after the current step; the model trained so far is kept."""
        if self._worker is not None and self.value.status in ("running", "paused"):
            self._worker.cancel()
            self._set(status="stopping")

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop training now and wait for its thread (bounded, see TrainingWorker.stop_and_wait);
        nothing more is reported from it. True when it ended within ``timeout_ms``."""
        worker, self._worker = self._worker, None
        if worker is None:
            self.autosave.discard()   # closed or replaced with the person's consent
            return True
        for signal in (worker.progress, worker.snapshotReady, worker.resultReady, worker.failed,
                       worker.checkpointFailed):
            signal.disconnect()
        clean = worker.stop_and_wait(timeout_ms)
        self._shorten_switch_interval(False)
        self._set(status="idle", progress=None)
        self.autosave.discard()   # closed or replaced with the person's consent
        return clean

    def restore(self, restored: Any) -> None:
        """Go on with an interrupted run read back from its autosave (an autosave_watch.RestoredRun)."""
        self.autosave.adopt(restored.folder)
        if not restored.finished:
            self.start(restored.plan, resume=restored.state)

    def _shorten_switch_interval(self, on: bool) -> None:
        if on and self._saved_switch_interval is None:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch_interval, TRAINING_SWITCH_INTERVAL_S))
        elif not on and self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    # -- from the worker --------------------------------------------------------------------
    # Each report is taken as it arrives (which worker sent it is known only then) and applied
    # through ``pace``, in order of arrival, and only while its worker is still the current one.
    def _paced(self, apply: Callable[..., None], *args: Any) -> None:
        worker = self.sender()
        self.pace(lambda: apply(worker, *args))

    def _on_progress(self, p: Any) -> None:
        self._paced(self._apply_progress, p)

    def _on_snapshot(self) -> None:
        self._paced(self._apply_snapshot)

    def _on_result(self, result: Any) -> None:
        self._paced(self._apply_result, result)

    def _on_checkpoint_failed(self, message: str) -> None:
        self._paced(self._apply_checkpoint_failed, message)

    def _on_failed(self, title: str, message: str) -> None:
        self._paced(self._apply_failed, title, message)

    def _on_finished(self) -> None:
        self._paced(self._apply_finished)

    def _apply_progress(self, worker: Any, p: Any) -> None:
        if worker is not self._worker:
            return
        run = self.value
        history = run.history
        if p.epoch_done:
            # The finished epoch joins the history at once: saving mid-run keeps it.
            entry = {"epoch": run.epoch_offset + p.epoch, "train": dict(p.terms), "val": dict(p.val or {}),
                     "images_per_s": p.images_per_s}
            history = (*history, entry)
        self._set(progress=p, history=history)

    def _apply_snapshot(self, worker: Any) -> None:
        if worker is not self._worker:
            return
        snap = worker.take_snapshot()   # the newest when applied: older ones are dropped
        if snap is not None:
            self.set_unsaved(True)
            self.snapshotReady.emit(snap.state)

    def _apply_result(self, worker: Any, result: Any) -> None:
        if worker is not self._worker:
            return
        run = self.value
        offset, asked = run.epoch_offset, self._plan.train_config.epochs
        reached = run.progress.epoch if run.progress is not None else len(result.history)
        outcome = (result.status, offset + max(1, reached), offset + asked, _last_loss(result.history),
                   result.message)
        self._set(history=tuple(self._plan.full_history(result.history)), unsaved=True,
                  message=f"Training {result.status}{_final_loss(result.history)}.", outcome=outcome)
        self.resultReady.emit(result.model.to("cpu").eval())
        if result.status == "diverged":
            self.failed.emit("Training diverged", result.message or "The loss became NaN.")

    def _apply_checkpoint_failed(self, worker: Any, message: str) -> None:
        if worker is self._worker:
            self.failed.emit("Autosave failed", f"{message}\nTraining goes on; save the model to keep it.")

    def _apply_failed(self, worker: Any, title: str, message: str) -> None:
        if worker is self._worker:
            self._set(message=f"{title}: {message.splitlines()[0] if message else ''}")
            self.failed.emit(title, message)

    def _apply_finished(self, worker: Any) -> None:
        if worker is self._worker:
            self._worker = None
            self._shorten_switch_interval(False)
            self._set(status="idle", progress=None)
        if worker is not None:
            worker.prepare_next_child()
            worker.deleteLater()


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    """The last epoch's main loss (validation if measured, else training), or None."""
    last = history[-1] if history else {}
    terms = last.get("val") or last.get("train") or {}
    loss = terms.get("loss", next(iter(terms.values()), None)) if isinstance(terms, dict) else None
    return float(loss) if isinstance(loss, (int, float)) and not isinstance(loss, bool) else None


def _final_loss(history: list[dict[str, Any]]) -> str:
    loss = _last_loss(history)
    return f"; validation loss {loss:.4g}" if loss is not None else ""
