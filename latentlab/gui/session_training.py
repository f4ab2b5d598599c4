"""Training for the GUI's controller: start, pause, resume, stop, snapshots, shutdown.

:class:`SessionTrainingMixin` is one half of :class:`latentlab.gui.session.Session`
(kept apart so each module reads in one sitting). It relies on the session's state
(``model``, ``data``, ``history``, the inference worker) and its signals. The training
worker owns the model it trains; the session only loads the snapshots it hands out.
"""

from __future__ import annotations

import sys
from typing import Any

from latentlab.core.device import cpu_state
from latentlab.gui.workers import TrainingWorker, panel_settings

# While training runs, three Python threads (GUI, trainer, encoder) share the GIL. At the
# default 5 ms switch interval the GUI thread waits up to 5 ms each time it gets back from
# a torch call; measured, a shorter interval cut GUI stalls and even sped training up.
TRAINING_SWITCH_INTERVAL_S = 0.0005
# Progress reports redraw the loss plot (~10-20 ms of painting each on a small machine):
# four a second read as live and leave the GUI thread free for the probe.
PROGRESS_INTERVAL_S = 0.25


class SessionTrainingMixin:
    """The training half of :class:`~latentlab.gui.session.Session` (see the module doc)."""

    # -- training ---------------------------------------------------------------------
    def start_training(self, settings: dict[str, Any]) -> bool:
        """Start training from the training panel's settings dict (see TrainingPanel)."""
        if self.is_training:
            return False
        try:
            from latentlab.core.plan import plan_training

            plan = plan_training(
                panel_settings(settings), data=self.data,
                model=self.model if self.model_ready() else None, history=self.history,
                threads=self.training_threads, progress_interval_s=PROGRESS_INTERVAL_S)
        except Exception as exc:
            self._report("Cannot start training", exc)
            return False
        from latentlab.core.models import build_model

        data, model_config, train_config = plan.data, plan.model_config, plan.train_config
        initial = plan.initial
        if initial is None:
            # A fresh inference copy; it shows the untrained decoder until the first snapshot.
            # Set before the data, so new data never meets the old model (a false "does not fit").
            self.set_model(build_model(model_config), meta={})
        if data is not self.data:
            self.set_data(data)
        self.train_config = train_config
        self._plan = plan
        worker = TrainingWorker(model_config, data, train_config, initial)
        worker.progress.connect(self.trainingProgress)
        worker.snapshotReady.connect(self._on_snapshot)
        worker.resultReady.connect(self._on_result)
        worker.failed.connect(self.errorOccurred)
        worker.finished.connect(self._on_worker_finished)
        self._trainer = worker
        self._shorten_switch_interval(True)
        worker.start()
        self._encode_timer.start()
        self._set_state("running")
        return True

    def pause_training(self) -> None:
        if self._trainer is not None and self.training_state == "running":
            self._trainer.pause()
            self._set_state("paused")

    def resume_training(self) -> None:
        if self._trainer is not None and self.training_state == "paused":
            self._trainer.resume()
            self._set_state("running")

    def stop_training(self) -> None:
        """Ask training to stop after the current step; the model trained so far is kept."""
        if self._trainer is not None and self.training_state in ("running", "paused"):
            self._trainer.cancel()
            self._set_state("stopping")

    def _set_state(self, state: str) -> None:
        if state != self.training_state:
            self.training_state = state
            self.trainingStateChanged.emit(state)

    def _shorten_switch_interval(self, on: bool) -> None:
        if on and self._saved_switch_interval is None:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch_interval, TRAINING_SWITCH_INTERVAL_S))
        elif not on and self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    def _on_snapshot(self) -> None:
        worker = self.sender()
        if worker is not self._trainer or self.model is None:
            return
        snap = worker.take_snapshot()
        if snap is None:
            return
        try:
            self.model.load_state_dict(snap.state)
        except RuntimeError as exc:   # a snapshot that does not fit is a bug, not a user mistake
            self._report("Could not show the training progress", exc)
            return
        self._latest_state = snap.state
        if self.codes is None and self._encoded_state is None:
            self.request_encode(snap.state)   # first picture of the scatter as soon as possible
        self.weightsUpdated.emit()

    def _on_result(self, result: Any) -> None:
        if self.sender() is not self._trainer:
            return
        self.model = result.model.to("cpu").eval()
        self.history = self._plan.full_history(result.history)
        self._latest_state = cpu_state(self.model)
        # The data description (with its content hash) is made when saving, not here.
        self.model_meta = {"history": self.history}
        # Continued training changed a loaded model: its file no longer holds these weights,
        # so a session saved now must not point at it (the title says "untitled" until saved).
        self.model_path = None
        self.weightsUpdated.emit()
        self.request_encode()
        self.trainingFinished.emit(result)
        if result.status == "diverged":
            self.errorOccurred.emit("Training diverged", result.message or "The loss became NaN.")

    def _on_worker_finished(self) -> None:
        worker = self.sender()
        if worker is self._trainer:
            self._trainer = None
            self._encode_timer.stop()
            self._shorten_switch_interval(False)
            self._set_state("idle")
        if worker is not None:
            worker.deleteLater()

    # -- shutdown -----------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop every thread (bounded wait); call before the window goes away.

        Returns True when all threads ended within ``timeout_ms`` each.
        """
        self._encode_timer.stop()
        clean = True
        trainer, self._trainer = self._trainer, None
        if trainer is not None:
            for signal in (trainer.progress, trainer.snapshotReady, trainer.resultReady, trainer.failed):
                signal.disconnect()
            clean = trainer.stop_and_wait(timeout_ms) and clean
            self._shorten_switch_interval(False)
            self._set_state("idle")
        return self.inference.shutdown(timeout_ms) and clean
