"""A background thread that follows a live run folder (``latentlab train --run-dir DIR``).

The folder may be written by another process or machine, on a shared or synced filesystem,
where a read can stall; so polling happens here, never on the GUI thread. Each poll is
:meth:`latentlab.core.run_folder.RunFollower.poll`; whatever it finds new is handed to the
GUI thread as one :class:`~latentlab.core.run_folder.RunUpdate` through the queued signal
``updated``. Updates are latest-wins like the training worker's snapshots: when the GUI is
slow, an update that carries no new weights or history is dropped for a newer one, but one
that does is merged into the next, so no snapshot or history change is lost.

Nothing here imports torch at module level.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QThread, Signal

from latentlab.core.errors import LatentLabError

log = logging.getLogger(__name__)

__all__ = ["RunFollowWorker"]


class RunFollowWorker(QThread):
    """Polls one run folder every ``interval_s`` until :meth:`stop_and_wait`.

    Signals (queued on the GUI thread):

    * ``updated()`` when a newer :class:`RunUpdate` waits in :meth:`take_update` (its
      ``snapshot`` is the newest weights as a loaded model, its ``history`` the whole
      history when it grew, ``status`` and ``stalled`` the run's state);
    * ``failed(str)`` when the folder cannot be followed any more (its status unreadable for
      ``give_up_after_s``: removed or damaged); the thread then ends.

    The constructor reads the folder's status once and raises LatentLabError for a folder
    that is not a run, so a person choosing the wrong folder hears so at once.
    """

    updated = Signal()
    failed = Signal(str)

    def __init__(self, folder: str, interval_s: float = 1.0, stall_after_s: float | None = None,
                 give_up_after_s: float = 30.0) -> None:
        super().__init__()
        from latentlab.core.run_folder import STALL_AFTER_S, RunFollower

        self.follower = RunFollower(folder, stall_after_s=STALL_AFTER_S if stall_after_s is None else stall_after_s,
                                    give_up_after_s=give_up_after_s)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: Any = None
        self._delivered: tuple[Any, bool] | None = None  # (status, stalled) last handed over

    def take_update(self) -> Any:
        """The newest update not yet taken (a RunUpdate), or None."""
        with self._lock:
            update, self._pending = self._pending, None
        return update

    def stop_and_wait(self, timeout_ms: int = 2000) -> bool:
        """Stop polling and wait up to ``timeout_ms``; True when the thread ended in that time."""
        self._stop.set()
        if not self.isRunning():
            return True
        if self.wait(timeout_ms):
            return True
        log.warning("following a run did not stop within %d ms; waiting for the current read", timeout_ms)
        self.wait()
        return False

    def run(self) -> None:  # noqa: D401 - Qt override
        while not self._stop.is_set():
            try:
                update = self.follower.poll()
            except (OSError, LatentLabError) as exc:
                self.failed.emit(str(exc))
                return
            self._offer(update)
            self._stop.wait(self.interval_s)

    def _offer(self, update: Any) -> None:
        state = (update.status, update.stalled)
        if update.snapshot is None and update.history is None and state == self._delivered:
            return  # nothing new for the window
        self._delivered = state
        with self._lock:
            previous, fresh = self._pending, self._pending is None
            if previous is not None:  # not taken yet: keep its weights and history unless newer ones came
                update.snapshot = update.snapshot if update.snapshot is not None else previous.snapshot
                update.history = update.history if update.history is not None else previous.history
            self._pending = update
        if fresh:
            self.updated.emit()
