"""Live run folders: a training run writes them, another process (or machine) follows them.

``latentlab train --run-dir DIR`` keeps, while it trains, a folder that is at every moment a
loadable LatentLab model plus a status file:

``config.json``, ``model.safetensors``
    the model-file pair of :mod:`latentlab.core.checkpoint` (``load_model(DIR)`` opens it):
    the latest weights snapshot (no more often than every ``min_interval_s``) and the
    history of the finished epochs; the architecture never changes during a run, so the two
    files always fit each other even though each is replaced on its own.
``status.json``
    ``running`` / ``finished`` / ``cancelled`` / ``diverged`` / ``failed``, the epoch reached,
    the latest snapshot's number, epoch and step, and when the writer last spoke (it does so
    at least every ``heartbeat_s`` while it trains).

Every file is written to a temporary name, synced and renamed over the old one
(:func:`latentlab.core.atomic_file.atomic_write`; a file that cannot be written is a
:class:`LatentLabError`), so a reader
on a shared or synced filesystem sees either the old or the new file, never half of one; a
reader that still catches a file mid-sync simply tries again on its next poll. Reading goes
through the bounded readers (:func:`latentlab.core.safe_io.read_capped`,
:func:`~latentlab.core.safe_io.load_json`, :func:`latentlab.core.checkpoint.load_model`).

The writer is :class:`RunFolderWriter`; a reader asks :func:`read_status` (what ``latentlab
info DIR`` prints) or keeps a :class:`RunFollower` and calls :meth:`RunFollower.poll`
periodically: it returns what changed since the last poll (a new snapshot as a loaded model,
a longer history, the status) and whether the run has stalled.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from latentlab.core.atomic_file import atomic_write
from latentlab.core.checkpoint import CONFIG_NAME, WEIGHTS_NAME, LoadedModel, load_model, model_file_contents
from latentlab.core.errors import LatentLabError
from latentlab.core.safe_io import load_json, read_capped

__all__ = ["STALL_AFTER_S", "STATUS_NAME", "RunFolderWriter", "RunFollower", "RunStatus", "RunUpdate",
           "check_run_dir", "is_run_folder", "read_history", "read_snapshot", "read_status"]

STATUS_NAME = "status.json"
KIND = "latentlab-run"
FORMAT_VERSION = 1
MAX_STATUS_BYTES = 1024**2
#: A running run that has not spoken for this long is shown as stalled.
STALL_AFTER_S = 60.0
STATUSES = ("running", "finished", "cancelled", "diverged", "failed")
_OWN_FILES = frozenset({STATUS_NAME, CONFIG_NAME, WEIGHTS_NAME})


def _now_iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- status
@dataclass(frozen=True)
class RunStatus:
    """What ``status.json`` says about a run."""

    status: str                     # one of STATUSES
    family: str
    epoch: int                      # epochs finished (numbered after a continued model's earlier ones)
    epochs: int                     # the epoch the run ends at
    step: int
    updated: float                  # when the writer last spoke (Unix time, the writer's clock)
    started: float
    snapshot: int = 0               # number of the latest weights snapshot (0: none yet)
    snapshot_epoch: int = 0
    snapshot_step: int = 0
    message: str = ""
    world_size: int = 1
    host: str = ""

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the writer last spoke (by this machine's clock)."""
        return max(0.0, (time.time() if now is None else now) - self.updated)

    def stalled(self, now: float | None = None, after_s: float = STALL_AFTER_S) -> bool:
        """A run that says it is running but has not spoken for ``after_s`` seconds."""
        return self.status == "running" and self.age_s(now) > after_s

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "format_version": FORMAT_VERSION, "status": self.status, "family": self.family,
                "epoch": self.epoch, "epochs": self.epochs, "step": self.step,
                "updated": _now_iso(self.updated), "updated_unix": self.updated,
                "started": _now_iso(self.started), "started_unix": self.started,
                "snapshot": {"number": self.snapshot, "epoch": self.snapshot_epoch, "step": self.snapshot_step},
                "message": self.message, "world_size": self.world_size, "host": self.host}


def _status_from(meta: Any, where: str) -> RunStatus:
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise LatentLabError(f"{where}: not a LatentLab run status")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LatentLabError(f"{where}: unsupported run format {meta.get('format_version')!r}; "
                             f"this LatentLab reads format {FORMAT_VERSION}")
    snap = meta.get("snapshot")
    snap = snap if isinstance(snap, dict) else {}

    def whole(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LatentLabError(f"{where}: the run's '{key}' is missing or damaged")
        return value

    def moment(key: str) -> float:
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LatentLabError(f"{where}: the run's '{key}' is missing or damaged")
        return float(value)

    status = meta.get("status")
    if status not in STATUSES:
        raise LatentLabError(f"{where}: unknown run status {status!r}")
    texts = {k: meta.get(k) if isinstance(meta.get(k), str) else "" for k in ("family", "message", "host")}
    return RunStatus(status=status, family=texts["family"], epoch=whole(meta.get("epoch"), "epoch"),
                     epochs=whole(meta.get("epochs"), "epochs"), step=whole(meta.get("step"), "step"),
                     updated=moment("updated_unix"), started=moment("started_unix"),
                     snapshot=whole(snap.get("number", 0), "snapshot"),
                     snapshot_epoch=whole(snap.get("epoch", 0), "snapshot"),
                     snapshot_step=whole(snap.get("step", 0), "snapshot"),
                     message=texts["message"], world_size=max(1, whole(meta.get("world_size", 1), "world_size")),
                     host=texts["host"])


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder with a run status in it (it may not be readable yet)."""
    return (Path(path) / STATUS_NAME).is_file()


def read_status(folder: str | os.PathLike[str]) -> RunStatus:
    """The status of the run in ``folder``; LatentLabError when it is not a run folder or is damaged."""
    path = Path(folder) / STATUS_NAME
    if not path.is_file():
        raise LatentLabError(f"{folder}: not a LatentLab run folder (no {STATUS_NAME})")
    return _status_from(load_json(read_capped(path, MAX_STATUS_BYTES), str(path)), str(path))


def read_snapshot(folder: str | os.PathLike[str]) -> LoadedModel | None:
    """The latest weights snapshot as a model (CPU, eval mode), or None before the first one."""
    root = Path(folder)
    if not (root / WEIGHTS_NAME).is_file() or not (root / CONFIG_NAME).is_file():
        return None
    return load_model(root)


def read_history(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The finished epochs so far (empty before the first snapshot)."""
    loaded = read_snapshot(folder)
    if loaded is None:
        return []
    history = loaded.meta.get("history")
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


# ----------------------------------------------------------------------------- writing
class RunFolderWriter:
    """Keeps a live run folder up to date; one writer per folder (rank 0 of a distributed run).

    Call :meth:`begin` once, :meth:`offer` with every Snapshot and Progress the trainer
    yields (a Progress closing an epoch carries its history entry), and :meth:`end` with the
    result (or :meth:`fail` when the run breaks off).
    """

    def __init__(self, folder: str | os.PathLike[str], model_config: Any, *, train_config: Any = None,
                 data_info: Mapping[str, Any] | None = None, prior_history: list[dict[str, Any]] | None = None,
                 first_epoch: int = 1, min_interval_s: float = 2.0, heartbeat_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        check_run_dir(self.folder)
        self.model_config = model_config
        self.train_config = train_config
        self.data_info = dict(data_info) if data_info is not None else None
        self.prior = [dict(h) for h in (prior_history or [])]
        self.offset = first_epoch - 1
        self.min_interval_s, self.heartbeat_s = min_interval_s, heartbeat_s
        self.clock = clock
        epochs = int(getattr(train_config, "epochs", 0) or 0)
        self.world_size = int(getattr(train_config, "world_size", 1) or 1)
        self.started = clock()
        self.status = RunStatus(status="running", family=model_config.family, epoch=self.offset,
                                epochs=epochs + self.offset, step=0, updated=self.started, started=self.started,
                                world_size=self.world_size, host=socket.gethostname())
        self.history: list[dict[str, Any]] = []
        self._last_weights = -math.inf
        self._last_status = -math.inf
        self._latest: Any = None    # the newest Snapshot offered
        self._dirty = False         # weights or history newer than the files
        self._written: RunStatus | None = None

    def begin(self) -> None:
        """Create the folder and say the run is running (a previous run's files are replaced)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_NAME, WEIGHTS_NAME):  # a previous run's model would pair with nothing
            (self.folder / name).unlink(missing_ok=True)
        self._write_status(force=True)

    def offer(self, item: Any) -> None:
        """Take one item the trainer yielded: a Snapshot (weights) or a Progress (epoch, heartbeat).

        Weights (with the history so far) are written when new ones wait and ``min_interval_s``
        has passed since the last; the status when it changed and that interval has passed,
        or every ``heartbeat_s`` regardless.
        """
        if hasattr(item, "state"):
            self._latest, self._dirty = item, True
        elif hasattr(item, "epoch_done"):
            changes: dict[str, Any] = {"step": int(item.step)}
            if item.epoch_done:
                changes["epoch"] = int(item.epoch) + self.offset
                if getattr(item, "entry", None) is not None:
                    self.history.append(dict(item.entry))
                    self._dirty = True
            self.status = _replace(self.status, **changes)
        else:
            return
        now = self.clock()
        if self._dirty and self._latest is not None and now - self._last_weights >= self.min_interval_s:
            self._write_model(self._latest.state, int(self._latest.epoch), int(self._latest.step))
        elif now - self._last_status >= (self.min_interval_s if self.status != self._written else self.heartbeat_s):
            self._write_status(force=True)

    def end(self, status: str, message: str, state: Mapping[str, torch.Tensor],
            history: list[dict[str, Any]]) -> None:
        """The final weights, the whole history (this run's epochs) and the final status."""
        self.history = [dict(h) for h in history]
        step = int(self._latest.step) if self._latest is not None else self.status.step
        epoch = int(self._latest.epoch) if self._latest is not None else len(history)
        self._write_model(dict(state), epoch, step)
        self.status = _replace(self.status, status=status, message=message, epoch=len(history) + self.offset,
                               step=step)
        self._write_status(force=True)

    def fail(self, message: str) -> None:
        """Say the run broke off (the last snapshot stays)."""
        self.status = _replace(self.status, status="failed", message=message)
        try:
            self._write_status(force=True)
        except (OSError, LatentLabError):
            pass  # the failure being reported may be this very folder

    # -- files -------------------------------------------------------------------------
    def _write_model(self, state: dict[str, torch.Tensor], epoch: int, step: int) -> None:
        files = model_file_contents(self.model_config, state, train_config=self.train_config,
                                    history=self.prior + self.history, data_info=self.data_info,
                                    extra={"run_folder": True})
        # Weights first: a reader that sees the new status finds weights at least that new.
        atomic_write(self.folder / WEIGHTS_NAME, lambda f: f.write(files[WEIGHTS_NAME]))
        atomic_write(self.folder / CONFIG_NAME, lambda f: f.write(files[CONFIG_NAME]))
        self._last_weights = self.clock()
        self._dirty = False
        self.status = _replace(self.status, snapshot=self.status.snapshot + 1, snapshot_epoch=epoch + self.offset,
                               snapshot_step=step)
        self._write_status(force=True)

    def _write_status(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_status < self.heartbeat_s:
            return
        self.status = _replace(self.status, updated=now)
        self._written = self.status
        data = (json.dumps(self.status.to_dict(), indent=2, allow_nan=False) + "\n").encode("utf-8")
        atomic_write(self.folder / STATUS_NAME, lambda f: f.write(data))
        self._last_status = now


def _replace(current: RunStatus, **changes: Any) -> RunStatus:
    from dataclasses import replace

    return replace(current, **changes)


def check_run_dir(folder: str | os.PathLike[str]) -> None:
    """Refuse a file, or a folder holding anything but a previous run's files (before training)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LatentLabError(f"--run-dir {folder} is a file; give a folder for the live run")
    if folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in _OWN_FILES and not p.name.startswith("."))
        if foreign or (any(folder.iterdir()) and not (folder / STATUS_NAME).is_file()):
            raise LatentLabError(f"--run-dir {folder} exists and is not a LatentLab run folder (it holds "
                                 f"{', '.join(foreign) or 'other files'}); choose an empty or new folder")
        if (folder / STATUS_NAME).is_file():
            try:
                previous = read_status(folder)
            except LatentLabError:
                return  # a damaged status of an old run: replaced
            if previous.status == "running" and not previous.stalled():
                raise LatentLabError(f"--run-dir {folder} belongs to a run that is still writing to it (updated "
                                     f"{previous.age_s():.0f} s ago on {previous.host or 'another machine'}); "
                                     "choose another folder")


# ----------------------------------------------------------------------------- following
@dataclass
class RunUpdate:
    """What changed since the follower's last poll."""

    status: RunStatus
    snapshot: LoadedModel | None = None              # new weights (with config and history), else None
    history: list[dict[str, Any]] | None = None      # the whole history, when it grew
    stalled: bool = False                            # running, but silent for stall_after_s
    changed: bool = field(default=False)             # anything new at all (status included)


class RunFollower:
    """Polls a run folder for a newer snapshot, history and status.

    The stall is judged by this machine's clock from when the status last changed, so a
    writer whose clock differs still counts as alive while it keeps writing. A status that
    cannot be read is taken for a file caught mid-sync; after ``give_up_after_s`` of that,
    :meth:`poll` raises LatentLabError (the folder was removed or damaged).
    """

    def __init__(self, folder: str | os.PathLike[str], *, stall_after_s: float = STALL_AFTER_S,
                 give_up_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        self.stall_after_s = stall_after_s
        self.give_up_after_s = give_up_after_s
        self.clock = clock
        self._unreadable_since: float | None = None
        self.status = read_status(self.folder)  # fails now for a folder that is not a run
        self._seen_snapshot = 0
        self._seen_epochs = -1
        self._changed_at = clock()
        self._last_updated = self.status.updated

    def poll(self) -> RunUpdate:
        """Read what is new; a file caught mid-replacement is read again on the next poll."""
        try:
            status = read_status(self.folder)
            self._unreadable_since = None
        except (OSError, LatentLabError) as exc:
            now = self.clock()
            if self._unreadable_since is None:
                self._unreadable_since = now
            elif now - self._unreadable_since > self.give_up_after_s:
                detail = str(exc) if isinstance(exc, LatentLabError) else (exc.strerror or str(exc))
                raise LatentLabError(f"stopped following {self.folder}: {detail}") from None
            status = self.status  # mid-sync on a shared filesystem: keep the last good one
        changed = status != self.status
        if status.started != self.status.started:  # a new run in the same folder: start over
            self._seen_snapshot, self._seen_epochs = 0, -1
        if status.updated != self._last_updated:
            self._last_updated = status.updated
            self._changed_at = self.clock()
        self.status = status
        update = RunUpdate(status=status)
        if status.snapshot > self._seen_snapshot:
            try:
                loaded = read_snapshot(self.folder)
            except (OSError, LatentLabError):
                loaded = None
            if loaded is not None:
                self._seen_snapshot = status.snapshot
                update.snapshot = loaded
                history = loaded.meta.get("history")
                history = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
                if len(history) != self._seen_epochs:
                    self._seen_epochs = len(history)
                    update.history = history
                changed = True
        update.stalled = status.status == "running" and self.clock() - self._changed_at > self.stall_after_s
        update.changed = changed
        return update
