"""Autosave of training in the window, and the offer to restore a run a crash interrupted.

While the window trains, the training worker hands every :class:`~latentlab.core.training.RunState`
the trainer yields (each epoch's end, at most one per :data:`AUTOSAVE_INTERVAL_S`) to a
:class:`RunAutosave`, which writes it on the worker's own thread into one folder under
:func:`latentlab.core.autosave.autosave_root` (``run.json`` + safetensors, atomic). The folder
belongs to the unsaved model on screen: a later run that continues that model writes into it
too, and it is removed once the model is saved, replaced with the person's consent or the window
closes with it. A crash leaves it behind.

A live folder is marked by a lock file beside it (``<folder>.lock``, a :class:`QLockFile` that
names this process), so a second window never offers a run that is still training; the lock of
a process that died is stale and is taken over. At the next launch
:func:`offer_interrupted_runs` asks about each interrupted run, newest first (Restore / Discard /
Later): Restore makes it the current unsaved model with its history and trains on where it
stopped, Discard removes it, Later keeps it for another launch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile

from latentlab.core import autosave
from latentlab.core.errors import LatentLabError

log = logging.getLogger(__name__)

# At most one checkpoint a minute: a crash loses at most a minute of training (or the epoch
# in progress, when one epoch takes longer), and short epochs do not write the disk each time.
AUTOSAVE_INTERVAL_S = 60.0
RESTORE, DISCARD, LATER = "restore", "discard", "later"


def _lock_for(folder: Path) -> QLockFile:
    lock = QLockFile(str(folder.parent / f"{folder.name}.lock"))
    lock.setStaleLockTime(0)   # stale only when its process is gone, however long a run trains
    return lock


def is_live(folder: str | Path) -> bool:
    """Whether a running LatentLab (this one or another) is still writing into ``folder``."""
    lock = _lock_for(Path(folder))
    if lock.tryLock(0):
        lock.unlock()
        return False
    return lock.error() == QLockFile.LockError.LockFailedError


class RunAutosave:
    """The autosave folder of the model on screen (see the module doc); owned by the TrainingRun.

    ``root`` None means :func:`latentlab.core.autosave.autosave_root` when the first checkpoint is
    written. ``interval_s`` is the least time between two checkpoints.
    """

    def __init__(self, root: str | Path | None = None, interval_s: float = AUTOSAVE_INTERVAL_S) -> None:
        self.root = None if root is None else Path(root)
        self.interval_s = interval_s
        self._mutex = threading.Lock()   # the worker creates the folder, the GUI thread removes it
        self._folder: Path | None = None
        self._lock: QLockFile | None = None

    @property
    def folder(self) -> Path | None:
        """The folder holding the current model's checkpoint, or None before the first one."""
        with self._mutex:
            return self._folder

    def train_config(self, config: Any) -> Any:
        """``config`` (a TrainConfig) set to yield a checkpoint every epoch, at most every ``interval_s``."""
        return replace(config, checkpoint_every=1, checkpoint_interval_s=float(self.interval_s))

    def writer(self, plan: Any) -> Callable[[Any], None]:
        """The callable the training worker calls with each RunState of ``plan``'s run, on its thread.

        It raises LatentLabError when the checkpoint cannot be written (the previous one stays).
        """
        from latentlab.core.checkpoint import describe_data

        tc = plan.train_config
        prior = [dict(h) for h in plan.prior_history]
        info = {"data": describe_data(plan.data, tc.val_fraction, tc.seed),
                "extra": {"written_by": "window", "continued": bool(plan.continues or prior),
                          "prior_history": prior}}

        def write(state: Any) -> None:
            autosave.write_checkpoint(self._ensure_folder(), state, **info)

        return write

    def _ensure_folder(self) -> Path:
        with self._mutex:
            if self._folder is None:
                root = self.root if self.root is not None else autosave.autosave_root()
                try:
                    folder = autosave.new_run_folder(root)
                except OSError as exc:
                    raise LatentLabError(f"could not make an autosave folder in {root}: "
                                         f"{exc.strerror or exc}") from None
                self._take(folder)
            assert self._folder is not None
            return self._folder

    def _take(self, folder: Path) -> None:
        lock = _lock_for(folder)
        if not lock.tryLock(0):
            raise LatentLabError(f"{folder}: another LatentLab window is using this training run")
        self._folder, self._lock = folder, lock

    def adopt(self, folder: str | Path) -> None:
        """Make an interrupted run's folder the current one (it was restored): later checkpoints
        replace it, and it goes when the model is saved or discarded."""
        self.discard()
        with self._mutex:
            self._take(Path(folder))

    def discard(self) -> None:
        """The model on screen is saved or let go: remove its checkpoint (if any) and the lock."""
        with self._mutex:
            folder, lock, self._folder, self._lock = self._folder, self._lock, None, None
        if folder is not None:
            try:
                autosave.remove_checkpoint(folder)
            except (LatentLabError, OSError) as exc:   # a folder with foreign files is left alone
                log.warning("the autosave %s was not removed: %s", folder, exc)
        if lock is not None:
            lock.unlock()


# -- restoring at launch -----------------------------------------------------------------------
@dataclass
class RestoredRun:
    """An interrupted run read back, ready to go on: the window's model, history and plan."""

    folder: Path
    state: Any              # the RunState to resume from
    plan: Any               # a TrainingPlan: data, configs, the history before the run
    model: Any              # the weights at the checkpoint, on the CPU in eval mode
    history: list[dict[str, Any]]   # the model's epochs so far, numbered on

    @property
    def finished(self) -> bool:
        """Whether the run had trained every epoch it was set to (nothing is left to train)."""
        return self.state.epoch >= self.state.epochs


def interrupted_runs(root: str | Path | None = None) -> list[autosave.InterruptedRun]:
    """Runs under ``root`` (default: the autosave folder) that no running LatentLab is writing."""
    return [run for run in autosave.find_interrupted_runs(root) if not is_live(run.folder)]


def _prior_epochs(run: autosave.InterruptedRun) -> int:
    prior = run.extra.get("prior_history")
    return len(prior) if isinstance(prior, list) else 0


def describe_run(run: autosave.InterruptedRun) -> str:
    """The question's text: the family, the data, the epoch reached and when it was saved."""
    from latentlab.core.models import registry

    try:
        family = registry.get(run.family).title
    except LatentLabError:
        family = run.family
    data = run.data.get("name") or (run.data.get("source") or {}).get("kind") or "unknown data"
    count = run.data.get("n")
    data_text = f"{data} ({count:,} items)" if isinstance(count, int) else str(data)
    prior = _prior_epochs(run)
    try:
        saved = datetime.fromisoformat(run.saved).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        saved = run.saved or "an unknown time"
    reached = f"epoch {prior + run.epoch} of {prior + run.epochs}" + (" (all trained)" if run.finished else "")
    then = "" if run.finished else " and train on from there"
    return (f"A training run did not end normally.\n\nModel: {family}\nData: {data_text}\n"
            f"Reached: {reached}\nSaved: {saved}\n\n"
            f"Restore it as an unsaved model{then}, or discard it?")


def load_run(run: autosave.InterruptedRun, current_data: Any = None) -> RestoredRun:
    """Read an interrupted run back: its weights, its data (``current_data`` when it is the same
    data set, else loaded from where the checkpoint says) and a plan that goes on from it.

    Raises LatentLabError when the checkpoint is damaged or its data set is gone or changed.
    """
    from latentlab.core.data import load_dataset
    from latentlab.core.models import ModelConfig, build_model
    from latentlab.core.plan import TrainingPlan
    from latentlab.core.training import TrainConfig

    state, meta = autosave.read_checkpoint(run.folder)
    if current_data is not None and current_data.fingerprint == state.data_fingerprint:
        data = current_data
    else:
        info = meta.get("data") if isinstance(meta.get("data"), dict) else {}
        source = info.get("source")
        if not source:
            raise LatentLabError(f"{run.folder}: the run does not say which data set it trained on")
        data = load_dataset(source)
        if data.fingerprint != state.data_fingerprint:
            raise LatentLabError(f"the data set '{data.name}' has changed since the run was saved, so its "
                                 "training cannot go on; discard the run or restore the data set")
    try:
        model_config = ModelConfig.from_dict(state.model_config)
        model = build_model(model_config)
        model.load_state_dict(state.model)
        train_config = TrainConfig.from_dict(state.train_config)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise LatentLabError(f"{run.folder}: the checkpoint does not describe a model this LatentLab can "
                             f"build ({exc})") from None
    prior = [dict(h) for h in meta.get("extra", {}).get("prior_history", []) if isinstance(h, dict)]
    plan = TrainingPlan(data=data, model_config=model_config, train_config=train_config, prior_history=prior)
    return RestoredRun(folder=run.folder, state=state, plan=plan, model=model.to("cpu").eval(),
                       history=plan.full_history(state.history))


def offer_interrupted_runs(window: Any, controller: Any, root: str | Path | None = None) -> bool:
    """Ask about every interrupted run, newest first, through ``window.ask_restore_run(text)``
    (:data:`RESTORE`, :data:`DISCARD` or :data:`LATER`); the first one restored goes to
    ``controller.restore_run`` and ends the questions. True when a run was restored."""
    for run in interrupted_runs(root):
        if window.closed or controller.is_training:
            return False
        answer = window.ask_restore_run(describe_run(run))
        if answer == DISCARD:
            try:
                autosave.remove_checkpoint(run.folder)
            except (LatentLabError, OSError) as exc:
                window.show_error("Could not discard the training run", str(exc))
        elif answer == RESTORE:
            try:
                return bool(controller.restore_run(load_run(run, controller.data)))
            except (LatentLabError, OSError) as exc:   # kept: the person may fix the data and try again
                window.show_error("Could not restore the training run", str(exc))
    return False
