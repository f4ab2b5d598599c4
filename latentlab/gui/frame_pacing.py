"""Work that can wait a frame waits for the spare time of one while the probe is dragged.

While a person drags the probe, each frame costs the GUI thread a few milliseconds: the probe
moves, the decoder runs, the window repaints. Everything else the GUI thread does then arrives
at its own time: a training run's progress reports and weight snapshots, the answers of the
inference worker (codes, maps, quality measurements), the loss curves' flush, the probe's
score. Each takes from one to several milliseconds, and one that arrives just before the next
frame is due makes that frame late.

:class:`FramePacer` holds such work while the probe is dragged and runs it right after a frame
(:meth:`frame`, told by the controller after each drag step), when the frame's own work is
done and the next one is furthest away: in arrival order, and only as much as fits
:data:`BUDGET_MS` (the first job always runs, so the queue keeps moving). Nothing waits longer
than :data:`MAX_WAIT_MS`, drag or not, and once the probe rests the queue is emptied at the
next turn of the event loop; work that arrives then runs at once, after whatever still waits,
so the order of arrival is kept throughout.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

#: After a frame, queued work starts only while this much of the GUI thread's time (ms) is used.
BUDGET_MS = 4.0
#: The longest any queued work waits (ms), whether or not frames come.
MAX_WAIT_MS = 100


class FramePacer(QObject):
    """Runs deferrable GUI-thread work between a drag's frames (see the module doc).

    ``dragging()`` says whether the probe is being dragged now (the controller's drag clock);
    ``clock`` is monotonic seconds (tests pass their own).
    """

    def __init__(self, dragging: Callable[[], bool], parent: QObject | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(parent)
        self._dragging = dragging
        self._clock = clock
        self._queue: deque[Callable[[], None]] = deque()
        self._after_frame = QTimer(self)   # zero timeout: after the frame's paint, before new input
        self._after_frame.setSingleShot(True)
        self._after_frame.setInterval(0)
        self._after_frame.timeout.connect(self._run_some)
        self._deadline = QTimer(self)      # the longest wait, for a drag that stopped sending frames
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(MAX_WAIT_MS)
        self._deadline.timeout.connect(self._run_some)

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` now, or after a frame while the probe is dragged (see the module doc)."""
        if self._dragging():
            self._queue.append(fn)
            if not self._deadline.isActive():
                self._deadline.start()
            return
        if self._queue:   # the drag just ended: what arrived during it comes first
            self._run_all()
        fn()

    def frame(self) -> None:
        """A frame of the drag was handled: queued work runs once it has been painted."""
        if self._queue and not self._after_frame.isActive():
            self._after_frame.start()

    def pending(self) -> int:
        """How many calls wait."""
        return len(self._queue)

    def flush(self) -> None:
        """Run everything that waits, now (before a question whose answer depends on it)."""
        self._run_all()

    def clear(self) -> None:
        """Drop what waits (the window is closing: nothing is left to show it)."""
        self._queue.clear()
        self._after_frame.stop()
        self._deadline.stop()

    def _run_some(self) -> None:
        if not self._dragging():
            self._run_all()
            return
        start = self._clock()
        budget_s = BUDGET_MS / 1000.0
        try:
            while self._queue:
                self._queue.popleft()()
                if self._clock() - start >= budget_s:
                    break
        finally:   # a call that raised must not leave the rest waiting for good
            self._rearm()

    def _run_all(self) -> None:
        try:
            while self._queue:   # work may queue more work: it runs too, in order
                self._queue.popleft()()
        finally:
            self._rearm()

    def _rearm(self) -> None:
        if self._queue:
            self._deadline.start()
        else:
            self._deadline.stop()
            self._after_frame.stop()
