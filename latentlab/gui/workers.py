"""Background threads of the GUI: the training worker and a one-job inference worker.

Also what turns the training panel's settings into configs. Nothing here imports torch
at module level: the window is built before torch has loaded.

Workers never touch widgets. They hand plain Python objects (``Progress``,
``Snapshot``, ``TrainResult``, numpy arrays) to the GUI thread through queued
signals; only the GUI thread turns them into pictures.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from latentlab.core.errors import LatentLabError

log = logging.getLogger(__name__)


# A job of the inference worker: it is given a ``should_stop()`` callable (True once
# a newer request of the same kind arrived or the worker shuts down) and returns a
# plain object; it should check ``should_stop`` between chunks of work.
Job = Callable[[Callable[[], bool]], Any]


def describe_exception(exc: BaseException) -> tuple[str, bool]:
    """A one-line message for a dialog and whether it is a user mistake."""
    if isinstance(exc, LatentLabError):
        return str(exc), True
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name), False


class TrainingWorker(QThread):
    """Runs ``latentlab.core.training.train`` on its own thread.

    Signals (delivered queued on the GUI thread):

    * ``progress(Progress)`` for every progress report (about 10 per second);
    * ``snapshotReady()`` when a newer weight snapshot waits in :meth:`take_snapshot`.
      Snapshots are latest-wins: if the GUI is slow, older ones are dropped instead of
      queueing up;
    * ``resultReady(TrainResult)`` once, when training ends normally or is cancelled;
    * ``failed(str, str)`` (title, message) if training raised instead.

    ``QThread.finished`` follows all of them.
    """

    progress = Signal(object)
    snapshotReady = Signal()
    resultReady = Signal(object)
    failed = Signal(str, str)

    def __init__(self, model_config: Any, data: Any, train_config: Any, initial: Any = None) -> None:
        super().__init__()
        from latentlab.core.training import TrainControl

        self.model_config = model_config
        self.data = data
        self.train_config = train_config
        self.initial = initial
        self.control = TrainControl()
        self._lock = threading.Lock()
        self._snapshot: Any = None

    # -- control, from the GUI thread ------------------------------------------------
    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def cancel(self) -> None:
        self.control.cancel()

    def take_snapshot(self) -> Any:
        """The newest snapshot not yet taken, or None."""
        with self._lock:
            snap, self._snapshot = self._snapshot, None
        return snap

    def stop_and_wait(self, timeout_ms: int = 1000) -> bool:
        """Cancel and wait up to ``timeout_ms``; True when the thread ended in that time.

        A step of a small model takes milliseconds, so the cancel flag is seen quickly.
        If the thread is somehow still busy afterwards we keep waiting (with a log
        line) rather than destroy a running QThread, which would crash the process.
        """
        self.control.cancel()
        if not self.isRunning():
            return True
        if self.wait(timeout_ms):
            return True
        log.warning("training did not stop within %d ms; waiting for the current step", timeout_ms)
        self.wait()
        return False

    # -- the thread --------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - Qt override
        from latentlab.core.training import Progress, Snapshot, train

        try:
            gen = train(self.model_config, self.data, self.train_config, self.control, self.initial)
            while True:
                try:
                    item = next(gen)
                except StopIteration as stop:
                    self.resultReady.emit(stop.value)
                    return
                if isinstance(item, Snapshot):
                    with self._lock:
                        fresh = self._snapshot is None
                        self._snapshot = item
                    if fresh:
                        self.snapshotReady.emit()
                elif isinstance(item, Progress):
                    self.progress.emit(item)
        except Exception as exc:  # reported to the user; the thread must end cleanly
            message, user_mistake = describe_exception(exc)
            if not user_mistake:
                log.exception("training failed")
            self.failed.emit("Training stopped", message)
        finally:
            # Drop references so the data and the model can be freed once the GUI lets go.
            self.data = None
            self.initial = None


class InferenceWorker(QThread):
    """A long-lived thread that runs one job per kind at a time, latest request wins.

    :meth:`submit` queues a job under a ``kind`` ("encode", "manifold", ...). A newer
    submission of the same kind replaces a pending one and tells a running one to stop
    (via its ``should_stop``). Results come back as ``resultReady(kind, generation,
    result)``; the GUI should keep a result only if :meth:`is_current` says so (a
    stale result can still arrive when a job finished just as a new one came in).
    """

    resultReady = Signal(str, int, object)
    failed = Signal(str, int, str)

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, Job]] = {}
        self._latest: dict[str, int] = {}
        self._generation = 0
        self._stopping = False

    def submit(self, kind: str, job: Job) -> int:
        """Queue ``job`` as the newest of ``kind``; returns its generation number."""
        with self._cond:
            self._generation += 1
            gen = self._generation
            self._latest[kind] = gen
            self._pending[kind] = (gen, job)
            self._cond.notify()
        if not self.isRunning() and not self._stopping:
            self.start()
        return gen

    def cancel(self, kind: str) -> None:
        """Drop a pending job of ``kind`` and mark any running one stale."""
        with self._cond:
            self._generation += 1
            self._latest[kind] = self._generation
            self._pending.pop(kind, None)

    def is_current(self, kind: str, generation: int) -> bool:
        """True when ``generation`` is still the newest request of ``kind``."""
        with self._cond:
            return self._latest.get(kind) == generation and not self._stopping

    def busy(self) -> bool:
        """True while a job is pending (running jobs are not counted)."""
        with self._cond:
            return bool(self._pending)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the thread (running jobs see ``should_stop``); True when it ended within
        ``timeout_ms`` (it is waited for in any case: a running QThread must not be destroyed)."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        if not self.isRunning():
            return True
        if self.wait(timeout_ms):
            return True
        log.warning("inference worker did not stop within %d ms; waiting", timeout_ms)
        self.wait()
        return False

    def _next_job(self) -> tuple[str, int, Job] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            kind = next(iter(self._pending))
            gen, job = self._pending.pop(kind)
            return kind, gen, job

    def run(self) -> None:  # noqa: D401 - Qt override
        import torch

        # With OpenMP, torch's thread count is per calling thread. Left at the default
        # (all cores), a re-encode would compete with training and the GUI for every core.
        torch.set_num_threads(self.threads)
        while True:
            taken = self._next_job()
            if taken is None:
                return
            kind, gen, job = taken

            def should_stop(kind: str = kind, gen: int = gen) -> bool:
                return not self.is_current(kind, gen)

            try:
                result = job(should_stop)
            except Exception as exc:  # one bad job must not end the worker
                message, user_mistake = describe_exception(exc)
                if not user_mistake:
                    log.exception("background job '%s' failed", kind)
                if not should_stop():
                    self.failed.emit(kind, gen, message)
                continue
            if not should_stop():
                self.resultReady.emit(kind, gen, result)


def panel_settings(values: dict[str, Any]) -> Any:
    """The training panel's nested settings dict as core :class:`TrainingSettings`."""
    from latentlab.core.plan import TrainingSettings

    d, m, t = values.get("data") or {}, values.get("model") or {}, values.get("train") or {}
    flat: dict[str, Any] = {k: v for k, v in {**m, **t}.items() if v is not None}
    flat.update({"data": d.get("spec") or None, "image_size": d.get("image_size"),
                 "color": d.get("color", "auto"), "limit": d.get("limit"),
                 "continue_training": bool(values.get("resume"))})
    return TrainingSettings.from_dict(flat)


class WarmUpThread(QThread):
    """Imports torch and pays one-off first-use costs off the GUI thread.

    ``fn`` runs on the thread; ``done(object)`` carries its return value (or the
    exception it raised) to the GUI thread.
    """

    done = Signal(object)

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            value: Any = self._fn()
        except Exception as exc:  # handed to the GUI thread, which reports it
            value = exc
        self.done.emit(value)
