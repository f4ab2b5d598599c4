"""The main window's side of training: the Start button, progress and the loss curves.

:class:`WindowTrainingMixin` is part of :class:`latentlab.gui.window.main_window.MainWindow`.
Progress reports are gathered and drawn on the loss plot at most once a second.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer

from latentlab.gui import settings as prefs

# Repainting the loss plot costs 20-40 ms on a small machine (axes re-laid out as the
# range grows); once a second keeps the curves live without stalling the probe.
LOSS_FLUSH_MS = 1000


class WindowTrainingMixin:
    """Training panel and loss plot handlers of the main window (see the module doc)."""

    def _init_loss_buffer(self) -> None:
        self._loss_points: list[tuple[str, float, dict]] = []
        self._loss_timer = QTimer(self)
        self._loss_timer.setSingleShot(True)
        self._loss_timer.setInterval(LOSS_FLUSH_MS)
        self._loss_timer.timeout.connect(self.flush_loss_points)

    # -- training -----------------------------------------------------------------------
    def _on_start_requested(self, values: dict) -> None:
        prefs.save_training_settings(values)
        self._loss_points.clear()
        self.loss_plot.clear()
        if self.session.start_training(values):
            self.training_panel.set_status("Training…")

    def _on_progress(self, p: Any) -> None:
        steps = max(p.steps_per_epoch, 1)
        in_epoch = p.step - (p.epoch - 1) * steps
        fraction = min(1.0, p.step / (steps * max(p.epochs, 1)))
        self.training_panel.set_progress(p.epoch, p.epochs, fraction, p.eta_s, p.images_per_s)
        x = float(p.epoch) if p.epoch_done else (p.epoch - 1) + min(max(in_epoch / steps, 0.0), 1.0)
        self._loss_points.append(("train", x, p.terms))
        if p.val:
            self._loss_points.append(("val", float(p.epoch), p.val))
        if not self._loss_timer.isActive():
            self._loss_timer.start()

    def flush_loss_points(self) -> None:
        """Draw the loss points gathered since the last flush."""
        self._loss_timer.stop()
        points, self._loss_points = self._loss_points, []
        for split, x, terms in points:
            if split == "train":
                self.loss_plot.add_train(x, terms)
            else:
                self.loss_plot.add_val(x, terms)

    def _on_training_state(self, state: str) -> None:
        self.training_panel.set_state(state)
        idle = state == "idle"
        for action in (self.open_action, self.open_data_action, self.open_folder_action, self.recent_menu):
            action.setEnabled(idle)

    def _on_training_finished(self, result: Any) -> None:
        self.flush_loss_points()
        last = result.history[-1] if result.history else {}
        loss = (last.get("val") or last.get("train") or {}).get("loss")
        tail = f"; validation loss {loss:.4g}" if isinstance(loss, (int, float)) else ""
        self.training_panel.set_status(f"Training {result.status}{tail}.")
        self._update_title()
