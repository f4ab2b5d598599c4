"""Training in a process of its own: the app trains there, the window stays in its process.

Trained on a thread of the app's process, the trainer shares Python's interpreter lock with the
GUI thread: every torch op lets the lock go and needs it back, and while the window draws a
dragged probe or a re-encoded plane the trainer waits (measured: in-app training at 0.6–0.8× a
headless run, and the GUI's frames late by the trainer's turns). A child process has its own
interpreter, so neither waits on the other, and a crash inside a native kernel ends the child,
not the window: the run reports one line and its autosave is kept.

The parent side is :class:`TrainingProcess`: ``run(job, on_item)`` sends a :class:`Job` (the
arguments of :func:`latentlab.core.training.train`) to a child and calls ``on_item`` with every
``Progress``, ``Snapshot`` and ``RunState`` it yields, then returns its ``TrainResult``. It
raises :class:`TrainingFailed` when training raised (``user_mistake`` says whether it was a
:class:`~latentlab.core.errors.LatentLabError`) and when the child died. ``pause()``,
``resume()`` and ``cancel()`` work from any thread, as on a
:class:`~latentlab.core.training.TrainControl`.

A child is started ahead of time and waits, with torch imported and warmed up
(:func:`prepare`, called by the app once its window shows points), so Start does not pay the
import; :func:`take` hands it out (or starts one) and the next is prepared when a run ends.

The two processes talk over the child's standard input and output: frames of an 8-byte
length and a pickle, between the app and the child it started (no file and nothing a user
gives is ever unpickled here), and each side unpickles only classes of LatentLab, torch,
numpy and a few plain builtins (:class:`_FrameUnpickler`). The child writes its logging to standard error.

:func:`isolatable` says whether a job can go to a child: its family is one of LatentLab's own
(a family registered at run time, and its model's class, exist only in the app's process) and
the job pickles.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

log = logging.getLogger(__name__)

#: Set in the environment of a frozen app's child, whose program is the app itself.
CHILD_ENV = "LATENTLAB_TRAINING_CHILD"
_HEADER = struct.Struct("<Q")
#: A frame from the parent is at most this big (a job carries the data set).
MAX_JOB_BYTES = 1 << 36


@dataclass
class Job:
    """The arguments of one ``train(...)`` call in a child."""

    model_config: Any
    data: Any
    train_config: Any
    initial: Any = None
    resume: Any = None


class TrainingFailed(Exception):
    """Training in the child raised, or the child died. ``str()`` is one line for a person.

    ``started`` is False when the child never got as far as taking the job (it could not start
    or import): the caller may train another way instead.
    """

    def __init__(self, message: str, user_mistake: bool = False, started: bool = True) -> None:
        super().__init__(message)
        self.user_mistake = user_mistake
        self.started = started


# -- framing ----------------------------------------------------------------------------------
def _write(stream: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)
    stream.flush()


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = stream.read(min(left, 1 << 24))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_frame(stream: IO[bytes], limit: int) -> bytes:
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    if size > limit:
        raise EOFError   # not our peer speaking
    return _read_exactly(stream, size)


#: The only modules a frame may name classes and functions from: what a job, a report or a
#: result is made of. Anything else in a frame is refused, so a stray or forged frame cannot
#: make either process run arbitrary code while unpickling.
_ALLOWED_PACKAGES = frozenset({"latentlab", "torch", "numpy", "collections", "copyreg", "_codecs", "pathlib"})
_ALLOWED_BUILTINS = frozenset({"set", "frozenset", "slice", "range", "complex", "bytearray", "tuple",
                               "list", "dict", "int", "float", "bool", "str", "bytes"})


class _FrameUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = (name in _ALLOWED_BUILTINS if module == "builtins"
                   else module.split(".")[0] in _ALLOWED_PACKAGES)
        if not allowed:
            raise pickle.UnpicklingError(f"a training frame may not name {module}.{name}")
        return super().find_class(module, name)


def _loads(frame: bytes) -> Any:
    import io

    return _FrameUnpickler(io.BytesIO(frame)).load()


def _read(stream: IO[bytes], limit: int) -> Any:
    return _loads(_read_frame(stream, limit))


# -- which jobs may go to a child ---------------------------------------------------------------
#: ``LATENTLAB_TRAINING_PROCESS=0`` in the environment makes :func:`wanted` False: the app then
#: trains on a thread of its own process (for troubleshooting, and for the test suite's speed).
WANTED_ENV = "LATENTLAB_TRAINING_PROCESS"


def supported() -> bool:
    """Whether this app can start training children at all (it knows its interpreter)."""
    return bool(sys.executable)


def wanted() -> bool:
    """The app's default: train in a child process unless the environment says otherwise."""
    return supported() and os.environ.get(WANTED_ENV, "1") != "0"


def isolatable(job: Job) -> bool:
    """True when ``job`` can train in a child: a built-in family, and starting weights (if any)
    of one of LatentLab's own model classes (a wrapped module exists only in this process)."""
    from latentlab.core.models import registry

    if not supported() or not registry.is_builtin(job.model_config.family):
        return False
    return job.initial is None or type(job.initial).__module__.startswith("latentlab.core.models.")


# -- the parent's side ------------------------------------------------------------------------
def _command() -> list[str]:
    if getattr(sys, "frozen", False):   # the bundled app's program starts the child (CHILD_ENV)
        return [sys.executable]
    return [sys.executable, "-m", "latentlab.core.train_process"]


class TrainingProcess:
    """One child process that trains one job. Start it early (:meth:`start`); :meth:`run` once."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False   # the child has taken its job (it said "ready")
        self._warm = False      # the child has imported torch and warmed up (it said "warm")
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._sending_job = False
        self._held: list[tuple[str, ...]] = []   # control sent while the job is being written
        self._ended = False

    def start(self) -> TrainingProcess:
        """Start the child (it imports torch and warms up, then waits for a job)."""
        if self._proc is None:
            env = dict(os.environ, **{CHILD_ENV: "1"})
            self._proc = subprocess.Popen(_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          env=env, close_fds=True)
        return self

    def wait_warm(self, timeout_s: float) -> bool:
        """Before :meth:`run`: wait until the child has imported torch and warmed up (True), the
        time is up or it died (False). For benchmarks that should start as a launched app does."""
        import selectors

        proc = self._proc
        if self._warm or proc is None or proc.stdout is None:
            return self._warm
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                return False
        try:
            message = _read(proc.stdout, 1 << 20)
        except (EOFError, OSError, pickle.UnpicklingError):
            return False
        self._warm = message[0] == "warm"
        return self._warm

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and not self._ended

    def _send(self, message: Any) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with self._send_lock:
            try:
                _write(proc.stdin, message)
            except (BrokenPipeError, OSError, ValueError):   # the child has gone; run() reports it
                pass

    def _control(self, message: tuple[str, ...]) -> None:
        # While the job (the whole data set) is written, the child may still be importing torch:
        # the GUI thread must not wait for that, so the message follows the job.
        with self._state_lock:
            if self._sending_job:
                self._held.append(message)
                return
        self._send(message)

    # Control, from any thread (as TrainControl's).
    def pause(self) -> None:
        self._control(("pause",))

    def resume(self) -> None:
        self._control(("resume",))

    def cancel(self) -> None:
        self._control(("cancel",))

    def kill(self) -> None:
        """End the child at once (a run that would not stop; closing the app)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._ended = True

    def run(self, job: Job, on_item: Callable[[Any], None]) -> Any:
        """Train ``job`` in the child; ``on_item`` gets every yielded item. Returns the TrainResult."""
        self.start()
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            with self._state_lock:
                self._sending_job = True
            self._send(("job", job))
            with self._state_lock:
                self._sending_job, held, self._held = False, self._held, []
            for message in held:
                self._send(message)
            while True:
                try:
                    message = _read(proc.stdout, MAX_JOB_BYTES)
                except (EOFError, OSError, pickle.UnpicklingError):
                    raise TrainingFailed(self._death_message(), started=self._started) from None
                kind = message[0]
                if kind == "warm":
                    self._warm = True
                elif kind == "ready":
                    self._started = True
                elif kind == "item":
                    on_item(message[1])
                elif kind == "result":
                    return message[1]
                elif kind == "error":
                    raise TrainingFailed(message[1], bool(message[2]))
        finally:
            self._ended = True
            self._close()

    def _death_message(self) -> str:
        proc = self._proc
        code = proc.wait(timeout=5) if proc is not None else None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return (f"the training process crashed ({name}); the model trained up to the last "
                    "autosave can be restored")
        return f"the training process ended unexpectedly (exit status {code})"

    def _close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


_pool_lock = threading.Lock()
_waiting: TrainingProcess | None = None


def prepare() -> None:
    """Start a child now, so the next :func:`take` finds it ready (no-op if one waits)."""
    global _waiting
    if not supported():
        return
    with _pool_lock:
        if _waiting is None or not _waiting.alive:
            try:
                _waiting = TrainingProcess().start()
            except OSError:   # take() will say so, and the run trains on a thread
                _waiting = None


def wait_until_warm(timeout_s: float = 60.0) -> bool:
    """Wait for the child :func:`prepare` started to be ready for a job (True) or give up."""
    with _pool_lock:
        child = _waiting
    return child is not None and child.wait_warm(timeout_s)


def take() -> TrainingProcess | None:
    """The waiting child (started by :func:`prepare`) or a new one, now the caller's; None when
    no child can be started here (the caller trains on a thread instead)."""
    global _waiting
    with _pool_lock:
        child, _waiting = _waiting, None
    if child is None or not child.alive:
        try:
            child = TrainingProcess().start()
        except OSError:
            log.warning("could not start a training process; training in the app's process", exc_info=True)
            return None
    return child


def discard() -> None:
    """End a waiting child (the app is closing)."""
    global _waiting
    with _pool_lock:
        child, _waiting = _waiting, None
    if child is not None:
        child.kill()
        child._close()


# -- the child's side ---------------------------------------------------------------------------
#: The training child's Unix nice value once it has reported: the lowest priority.
TRAINING_NICE = 19


def yield_to_the_window() -> None:
    """Run every thread of this (the training child) process at :data:`TRAINING_NICE` (Linux).

    The window's process shares the machine with the trainer, which keeps a core busy. When the
    scheduler puts the GUI thread on the trainer's core, a trainer of the same priority keeps
    it for its slice of a few milliseconds and the frame waits; at the lowest priority the GUI
    thread takes the core the moment it wakes (measured: GUI timer gap p99 during a probe drag
    about 1.3 ms lower; ``benchmarks/gui_timer_gaps.py``). The child calls this once its run has
    sent the first progress report: warming up and starting run at the priority it was started
    with, so a window busy with its own background work (an encode, a quality measurement, at
    a nice value 10 higher than its GUI thread) cannot hold back the start of a run. An otherwise
    idle core still trains at full speed; a machine kept busy by other programs trains more
    slowly. ``latentlab train`` runs at the priority it was started with.
    """
    if not hasattr(os, "setpriority"):
        return
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]   # Linux: a nice value per thread
    except (OSError, ValueError):
        threads = [0]
    for tid in threads:
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, max(current, TRAINING_NICE))
        except OSError:   # not allowed, or the thread has ended: it keeps its priority
            pass


def child_main() -> int:
    """Run in the child: warm up, wait for one job, train it, report everything, exit.

    A thread reads what the app sends from the first moment, so the child ends at once when the
    app goes away (closed, or killed), even while it is still importing torch.
    """
    import io
    import queue

    # The protocol owns the real standard output; anything printed goes to standard error.
    out = io.open(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = io.open(os.dup(0), "rb", buffering=1 << 16)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (training process): %(message)s")
    frames: queue.Queue[bytes] = queue.Queue()

    def read_from_app() -> None:
        while True:
            try:
                frames.put(_read_frame(inp, MAX_JOB_BYTES))
            except (EOFError, OSError):
                os._exit(0)   # the app is gone (or done with this child): nobody to train for

    threading.Thread(target=read_from_app, name="from-app", daemon=True).start()

    import torch  # noqa: F401 - the slow import this child exists to pay early

    from latentlab.core.errors import LatentLabError
    from latentlab.core.training import Progress, TrainControl, train, warm_up

    warm_up()
    _say(out, ("warm",))   # ready for a job: torch imported, the optimiser's first use paid
    control = TrainControl()
    message = _loads(frames.get())
    while message[0] != "job":   # a control message can come before the job: keep its effect
        _apply(control, message)
        message = _loads(frames.get())
    job: Job = message[1]

    def steer() -> None:
        while True:
            _apply(control, _loads(frames.get()))

    threading.Thread(target=steer, name="control", daemon=True).start()
    _say(out, ("ready",))
    outbox = _Outbox(out)
    try:
        gen = train(job.model_config, job.data, job.train_config, control, job.initial, resume=job.resume)
        yielded = False
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                outbox.put(("result", stop.value))
                break
            outbox.put(("item", item))
            if not yielded and isinstance(item, Progress):
                yielded = True
                yield_to_the_window()   # the run has started: from now on the window comes first
    except LatentLabError as exc:
        outbox.put(("error", str(exc), True))
    except Exception as exc:  # reported to the app as one line; the traceback goes to stderr
        log.exception("training failed")
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        name = type(exc).__name__
        outbox.put(("error", f"{name}: {text}" if text else name, False))
    outbox.close()
    out.close()
    return 0


class _Outbox:
    """The child's messages go out on a thread of their own, so the trainer never waits for the
    app to read a pipe (a snapshot is megabytes, a pipe holds 64 KB, and the app's reader shares
    its interpreter with a busy GUI thread). A weight snapshot still waiting when a newer one
    comes is dropped (the app keeps only the newest anyway); everything else goes out in order."""

    def __init__(self, out: IO[bytes]) -> None:
        from collections import deque

        self._out = out
        self._cond = threading.Condition()
        self._queue: deque[tuple[Any, ...]] = deque()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    @staticmethod
    def _is_snapshot(message: tuple[Any, ...]) -> bool:
        from latentlab.core.training import Snapshot

        return message[0] == "item" and isinstance(message[1], Snapshot)

    def put(self, message: tuple[Any, ...]) -> None:
        with self._cond:
            if self._is_snapshot(message):
                for i, queued in enumerate(self._queue):
                    if self._is_snapshot(queued):
                        del self._queue[i]
                        break
            self._queue.append(message)
            self._cond.notify()

    def close(self) -> None:
        """Send what is queued, then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                message = self._queue.popleft()
            try:
                _write(self._out, message)
            except (BrokenPipeError, OSError, ValueError):   # the app has gone
                os._exit(0)


def _say(out: IO[bytes], message: tuple[Any, ...]) -> None:
    """Write to the app; if it has gone (closed, or it never waited for this child), just end."""
    try:
        _write(out, message)
    except (BrokenPipeError, OSError, ValueError):
        os._exit(0)


def _apply(control: Any, message: tuple[str, ...]) -> None:
    kind = message[0] if message else ""
    if kind == "pause":
        control.pause()
    elif kind == "resume":
        control.resume()
    elif kind == "cancel":
        control.cancel()


if __name__ == "__main__":
    sys.exit(child_main())
