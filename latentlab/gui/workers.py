"""Background threads of the GUI: the training worker and a one-job inference worker.

Nothing here imports torch at module level: the window is built before torch has loaded.

Workers never touch widgets. They hand plain Python objects (``Progress``,
``Snapshot``, ``TrainResult``, numpy arrays) to the GUI thread through queued
signals; only the GUI thread turns them into pictures.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal, Slot

from latentlab.core.errors import LatentLabError

log = logging.getLogger(__name__)


# A job of the inference worker: it is given a ``should_stop()`` callable (True once
# a newer request of the same kind arrived, the request was cancelled or the worker shuts
# down) and returns a plain object; it should check ``should_stop`` between chunks of work.
# A job submitted with ``on_progress`` is also given ``progress(done, total)`` to call.
Job = Callable[..., Any]


#: While training runs, a thread waiting for the GIL asks for it after this long (Python's
#: default is 5 ms). The trainer lets the GIL go inside every torch op and needs it back
#: between ops; while the GUI thread runs Python (a probe drag costs a few milliseconds a
#: frame) it waited up to 5 ms each time, about a fifth of its time during a drag. The GUI
#: thread, waiting on a worker, gains the same way; the price is a few more thread switches.
TRAINING_SWITCH_INTERVAL_S = 0.0005


def at_once(call: Callable[[], None]) -> None:
    """The default ``pace`` of the GUI's receivers: apply a report or answer now."""
    call()


class _QuickGilHandover:
    """Holds the short switch interval while any training thread runs (runs may overlap as one
    ends and the next starts); the last one out puts back the interval found by the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = sys.getswitchinterval()

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, TRAINING_SWITCH_INTERVAL_S))
            self._running += 1

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                sys.setswitchinterval(self._saved)


_QUICK_GIL = _QuickGilHandover()

#: How much lower (a Unix nice step) the window's background threads run than the GUI thread.
BACKGROUND_NICE = 10


def lower_thread_priority() -> None:
    """Run the calling background thread below the GUI thread's priority.

    While a model trains, its process has one core and the GUI thread shares the other with
    the window's background threads (re-encoding the data, measuring sample quality, relaying
    the trainer's messages). At the same priority the scheduler hands the core back and forth
    in slices of a few milliseconds, so a frame of a probe drag waited whenever one of them
    ran; a lower priority lets the GUI thread take the core the moment it wakes. An otherwise
    idle machine still runs these threads at full speed. On Linux a thread has a nice value of
    its own; elsewhere Qt sets the thread's priority.
    """
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + BACKGROUND_NICE))
        except OSError:   # not allowed here: the thread keeps its priority
            pass
        return
    thread = QThread.currentThread()
    if thread is not None and thread.isRunning():
        thread.setPriority(QThread.Priority.LowPriority)


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
    * ``failed(str, str)`` (title, message) if training raised instead;
    * ``checkpointFailed(str)`` the first time ``on_checkpoint`` could not write a checkpoint
      (training goes on).

    ``QThread.finished`` follows all of them. ``resume`` (a RunState) goes on from a saved run;
    ``on_checkpoint(state)`` is called on this thread with every RunState the trainer yields
    (``TrainConfig.checkpoint_every``), so writing it never holds up the GUI.

    With ``isolated`` (and when :func:`latentlab.core.train_process.isolatable` allows it) the
    training itself runs in a child process (:mod:`latentlab.core.train_process`) and this
    thread only relays what it reports: the window and the trainer then never wait on each
    other's interpreter lock, and a crash in the trainer ends the child, not the app.
    :attr:`isolated` says which way this run went.
    """

    progress = Signal(object)
    snapshotReady = Signal()
    resultReady = Signal(object)
    failed = Signal(str, str)
    checkpointFailed = Signal(str)

    def __init__(self, model_config: Any, data: Any, train_config: Any, initial: Any = None,
                 resume: Any = None, on_checkpoint: Callable[[Any], None] | None = None,
                 isolated: bool = False) -> None:
        super().__init__()
        from latentlab.core import train_process
        from latentlab.core.training import TrainControl

        self.model_config = model_config
        self.data = data
        self.train_config = train_config
        self.initial = initial
        self.resume_from = resume
        self.on_checkpoint = on_checkpoint
        self.control = TrainControl()
        self._lock = threading.Lock()
        self._snapshot: Any = None
        self._checkpoint_failed = False
        self._prepare_next = True   # False once the app shuts this run down (no next run then)
        self._relaying = False      # True once the training process's messages arrive
        self._child_used = False    # True once a run in the training process has ended
        job = train_process.Job(model_config, data, train_config, initial, resume)
        self._process = train_process.take() if isolated and train_process.isolatable(job) else None
        # (take() is None where no child can start: this run trains on this thread)
        self._job = job if self._process is not None else None

    @property
    def isolated(self) -> bool:
        """True when this run trains in a child process."""
        return self._process is not None

    # -- control, from the GUI thread ------------------------------------------------
    def pause(self) -> None:
        self.control.pause()
        if self._process is not None:
            self._process.pause()

    def resume(self) -> None:
        self.control.resume()
        if self._process is not None:
            self._process.resume()

    def cancel(self) -> None:
        self.control.cancel()
        if self._process is not None:
            self._process.cancel()

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
        self._prepare_next = False
        self.cancel()
        if not self.isRunning():
            if self._process is not None and self._job is not None:   # never started: end the child
                self._process.kill()
            return True
        if self.wait(timeout_ms):
            return True
        if self._process is not None:   # a child that does not stop is ended; its thread then returns
            log.warning("the training process did not stop within %d ms; ending it", timeout_ms)
            self._process.kill()
        else:
            log.warning("training did not stop within %d ms; waiting for the current step", timeout_ms)
        self.wait()
        return False

    # -- the thread --------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - Qt override
        from latentlab.core.train_process import TrainingFailed

        in_thread = self._process is None
        if in_thread:
            _QUICK_GIL.__enter__()
        try:
            if in_thread:
                result = self._train_here()
            else:
                job, self._job = self._job, None
                try:
                    result = self._process.run(job, self._relay_from_child)
                except TrainingFailed as exc:
                    if exc.started or self.control.cancelled:
                        raise
                    # The child never took the job (it could not start): train here instead.
                    log.warning("the training process could not start (%s); training in the app's process", exc)
                    in_thread = True
                    _QUICK_GIL.__enter__()
                    result = self._train_here()
            self.resultReady.emit(result)
        except TrainingFailed as exc:   # the child reported it (its traceback went to stderr)
            self.failed.emit("Training stopped", str(exc))
        except Exception as exc:  # reported to the user; the thread must end cleanly
            message, user_mistake = describe_exception(exc)
            if not user_mistake:
                log.exception("training failed")
            self.failed.emit("Training stopped", message)
        finally:
            if in_thread:
                _QUICK_GIL.__exit__()
            else:
                self._child_used = True   # the next run's process: see prepare_next_child
            # Drop references so the data and the model can be freed once the GUI lets go.
            self.data = None
            self.initial = None
            self.resume_from = None
            self._job = None

    def prepare_next_child(self) -> None:
        """From the GUI thread once this run's thread has finished: start the next run's training
        process warming up, as at launch, when this run used one and the app goes on.

        Not from the run's own thread: a process inherits the nice value of the thread that
        starts it, and the relaying thread runs below the GUI (:func:`lower_thread_priority`),
        which it cannot undo; every later run would train at that low priority for good."""
        if self._child_used and self._prepare_next:
            from latentlab.core import train_process

            train_process.prepare()

    def _train_here(self) -> Any:
        from latentlab.core.training import train

        gen = train(self.model_config, self.data, self.train_config, self.control, self.initial,
                    resume=self.resume_from)
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            self._relay(item)

    def _relay_from_child(self, item: Any) -> None:
        """:meth:`_relay` for a run in the training process: this thread only passes messages
        on, so from the first one it runs below the GUI thread (a run the child could not take
        trains on this thread instead, at full priority)."""
        if not self._relaying:
            self._relaying = True
            lower_thread_priority()
        self._relay(item)

    def _relay(self, item: Any) -> None:
        """Hand one yielded item on: snapshots latest-wins, progress queued, checkpoints written here."""
        from latentlab.core.training import Progress, RunState, Snapshot

        if isinstance(item, Snapshot):
            with self._lock:
                fresh = self._snapshot is None
                self._snapshot = item
            if fresh:
                self.snapshotReady.emit()
        elif isinstance(item, Progress):
            self.progress.emit(item)
        elif isinstance(item, RunState) and self.on_checkpoint is not None:
            try:
                self.on_checkpoint(item)
            except LatentLabError as exc:   # a full disk must not stop the training
                if not self._checkpoint_failed:
                    self._checkpoint_failed = True
                    self.checkpointFailed.emit(str(exc))


class JobHandle:
    """One request to the :class:`InferenceWorker`, and where its answer goes.

    The answer reaches only this request's ``on_result(result)`` (or ``on_error(message)``),
    on the GUI thread, and only while the request is the newest of its ``kind``: a newer
    request of that kind, :meth:`cancel` or the worker's shutdown make it stale, and a stale
    answer is dropped.
    """

    def __init__(self, worker: InferenceWorker, kind: str, generation: int,
                 on_result: Callable[[Any], None], on_error: Callable[[str], None] | None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        self.kind, self.generation = kind, generation
        self._worker = worker
        self._on_result, self._on_error = on_result, on_error
        self._on_progress = on_progress
        self.done = False   # set once its answer (result or error) was handed over or dropped

    def is_current(self) -> bool:
        """True while no newer request of this kind was made and it was not cancelled."""
        return self._worker.is_current(self.kind, self.generation)

    def cancel(self) -> None:
        """Drop this request (pending or running) if it is still the newest of its kind."""
        if self.is_current():
            self._worker.cancel(self.kind)

    def _deliver(self, result: Any, error: str | None) -> None:
        self.done = True
        if not self.is_current():
            return
        if error is None:
            self._on_result(result)
        elif self._on_error is not None:
            self._on_error(error)

    def _progress(self, done: int, total: int) -> None:
        if self._on_progress is not None and not self.done and self.is_current():
            self._on_progress(done, total)


class InferenceWorker(QThread):
    """A long-lived thread that runs one job per kind at a time, latest request wins.

    :meth:`submit` queues a job under a ``kind`` ("encode", "manifold", ...) and returns a
    :class:`JobHandle`. A newer submission of the same kind replaces a pending one and tells
    a running one to stop (via its ``should_stop``). The result goes back to the requester
    alone, on the GUI thread, and only if no newer request of its kind came in meanwhile.
    """

    # (handle, result, error message or None), from the worker thread to the GUI thread.
    _answered = Signal(object, object, object)
    # (handle, done, total): a job's progress, from the worker thread to the GUI thread.
    _progressed = Signal(object, int, int)

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads
        # How answers reach their requesters on the GUI thread: ``pace(call)`` runs ``call``
        # now or a little later, in order (the controller's frame pacer holds them for the
        # spare time between a probe drag's frames). By default, at once.
        self.pace: Callable[[Callable[[], None]], None] = at_once
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[JobHandle, Job]] = {}
        self._latest: dict[str, int] = {}
        self._generation = 0
        self._stopping = False
        self._answered.connect(self._deliver)   # queued: this object lives on the GUI thread
        self._progressed.connect(self._report_progress)

    def submit(self, kind: str, job: Job, on_result: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> JobHandle:
        """Queue ``job`` as the newest of ``kind``; its result goes to ``on_result``.

        With ``on_progress`` the job is called as ``job(should_stop, progress)``; each
        ``progress(done, total)`` reaches ``on_progress`` on the GUI thread while the request
        is current and unanswered.
        """
        with self._cond:
            self._generation += 1
            handle = JobHandle(self, kind, self._generation, on_result, on_error, on_progress)
            self._latest[kind] = handle.generation
            self._pending[kind] = (handle, job)
            self._cond.notify()
        if not self.isRunning() and not self._stopping:
            self.start()
        return handle

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

    @Slot(object, object, object)
    def _deliver(self, handle: JobHandle, result: Any, error: str | None) -> None:
        self.pace(lambda: handle._deliver(result, error))

    @Slot(object, int, int)
    def _report_progress(self, handle: JobHandle, done: int, total: int) -> None:
        self.pace(lambda: handle._progress(done, total))

    def _next_job(self) -> tuple[JobHandle, Job] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            kind = next(iter(self._pending))
            return self._pending.pop(kind)

    def run(self) -> None:  # noqa: D401 - Qt override
        import torch

        # With OpenMP, torch's thread count is per calling thread. Left at the default
        # (all cores), a re-encode would compete with training and the GUI for every core.
        torch.set_num_threads(self.threads)
        lower_thread_priority()   # the GUI thread's frames come first
        while True:
            taken = self._next_job()
            if taken is None:
                return
            handle, job = taken
            def should_stop(h: JobHandle = handle) -> bool:
                return not h.is_current()

            def progress(done: int, total: int, h: JobHandle = handle) -> None:
                if h.is_current():
                    self._progressed.emit(h, int(done), int(total))

            try:
                result = job(should_stop, progress) if handle._on_progress is not None else job(should_stop)
            except Exception as exc:  # one bad job must not end the worker
                message, user_mistake = describe_exception(exc)
                if not user_mistake:
                    log.exception("background job '%s' failed", handle.kind)
                if handle.is_current():
                    self._answered.emit(handle, None, message)
                continue
            if handle.is_current():
                self._answered.emit(handle, result, None)


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
