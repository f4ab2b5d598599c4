"""Training as one value: its status, the history so far and whether the model is saved."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Signal

STATUSES = ("idle", "running", "paused", "stopping")


@dataclass(frozen=True, eq=False)
class Run:
    """The current model's training.

    ``history`` holds one dict per finished epoch of the model (earlier runs first),
    numbered on from ``epoch_offset``, the epochs it had before this run. ``unsaved`` says
    its weights differ from any file. ``run_id`` changes for every new run and every other
    model; ``progress`` is the latest report of this run (None before one). ``message`` says
    how the last run ended; ``outcome`` is the same as a value when the trainer returned:
    ``(status, epoch, epochs, loss, message)`` with the trainer's status ("finished",
    "cancelled", "diverged"), the epoch it was in and the last epoch asked for, both numbered
    on from the model's earlier epochs.
    """

    status: str = "idle"
    history: tuple[dict[str, Any], ...] = ()
    epoch_offset: int = 0
    unsaved: bool = False
    run_id: int = 0
    progress: Any = None
    message: str = ""
    outcome: tuple[str, int, int, float | None, str] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown training status {self.status!r}; expected one of {STATUSES}")

    @property
    def training(self) -> bool:
        return self.status != "idle"

    def with_changes(self, **changes: Any) -> Run:
        return replace(self, **changes)


class RunModel(QObject):
    """Holds the current :class:`Run`; ``runChanged(run)`` carries every new one."""

    runChanged = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._value = Run()

    @property
    def value(self) -> Run:
        return self._value

    def set(self, run: Run) -> None:
        """Make ``run`` current and announce it (called by the run's one owner)."""
        self._value = run
        self.runChanged.emit(run)
