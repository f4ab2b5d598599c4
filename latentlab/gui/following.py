"""File ▸ Follow Run: the window shows a run that another process is training (``train --run-dir``).

:class:`RunFollowing` owns a :class:`~latentlab.gui.run_follow.RunFollowWorker` that polls the
folder off the GUI thread. The first weights snapshot opens as the model on screen; each later
one replaces its weights the way a training snapshot does (the plane re-encodes, the probe
decodes with the newest weights); the history fills the loss curves; the status bar says how
the run is going — running, stalled (no word from the writer for a while), finished, failed.
A snapshot of a different model (a new run started in the same folder) opens afresh.
The controller provides what it does through plain callables (:class:`FollowHost`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject

from latentlab.core.errors import LatentLabError


@dataclass(frozen=True)
class FollowHost:
    """What following needs from the controller."""

    adopt: Callable[[Any, str], None]          # (LoadedModel, folder): open it as the model on screen
    load_weights: Callable[[dict[str, Any]], None]   # newer weights for that model
    set_history: Callable[[list[dict[str, Any]]], None]
    show_status: Callable[[str], None]
    show_error: Callable[[str, str], None]


def describe(folder: str, status: Any, stalled: bool) -> str:
    """The status bar's line for a followed run."""
    name = os.path.basename(os.path.normpath(folder)) or folder
    where = f"epoch {status.epoch} of {status.epochs}" if status.epochs else f"epoch {status.epoch}"
    if stalled:
        return (f"Following {name}: stalled at {where} — no word from the training for "
                f"{status.age_s():.0f} s")
    state = {"running": "training", "finished": "finished", "cancelled": "stopped",
             "diverged": "diverged", "failed": "failed"}.get(status.status, status.status)
    message = f" ({status.message})" if status.message and status.status in ("failed", "diverged") else ""
    return f"Following {name}: {state}, {where}{message}"


class RunFollowing(QObject):
    """Follows at most one run folder at a time."""

    def __init__(self, host: FollowHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._worker: Any = None
        self._folder: str | None = None
        self._config: Any = None          # the config of the model adopted from the folder
        self.last_status: str = ""

    @property
    def folder(self) -> str | None:
        """The folder being followed, or None."""
        return self._folder

    def follow(self, folder: str, interval_s: float = 1.0) -> bool:
        """Start following ``folder``; False (after saying why) when it is not a run folder."""
        from latentlab.gui.run_follow import RunFollowWorker

        self.stop()
        try:
            worker = RunFollowWorker(folder, interval_s=interval_s)
        except LatentLabError as exc:
            self._host.show_error("Cannot follow this folder", str(exc))
            return False
        self._worker, self._folder, self._config = worker, folder, None
        worker.updated.connect(self._on_updated)
        worker.failed.connect(self._on_failed)
        worker.start()
        return True

    def stop(self) -> None:
        """Stop following (another model opens, training starts here, the window closes)."""
        worker, self._worker = self._worker, None
        self._folder = None
        if worker is not None:
            worker.updated.disconnect(self._on_updated)
            worker.failed.disconnect(self._on_failed)
            worker.stop_and_wait()

    def _on_updated(self) -> None:
        worker = self._worker
        if worker is None:
            return
        update = worker.take_update()
        if update is None:
            return
        folder = self._folder or ""
        loaded = update.snapshot
        if loaded is not None:
            config = loaded.model.config
            if self._config is None or config != self._config:
                self._config = config
                self._host.adopt(loaded, folder)
            else:
                self._host.load_weights({k: v.detach().clone() for k, v in loaded.model.state_dict().items()})
        if update.history is not None:
            self._host.set_history(list(update.history))
        self.last_status = describe(folder, update.status, update.stalled)
        self._host.show_status(self.last_status)

    def _on_failed(self, message: str) -> None:
        folder = self._folder
        self.stop()
        self._host.show_error("Stopped following the run", f"{folder}: {message}")
