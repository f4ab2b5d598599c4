"""How often the plane follows a training run: often enough to watch, rarely enough to train.

While a model trains, each weight snapshot asks for the data to be placed again (a pass of the
whole data set on the inference worker), after which the map of the data is rebuilt and the
GUI thread publishes the scene and renders the dots anew. All of it competes with training for
the processor and, on the GUI thread, with the person's frames. :class:`EncodePacing` sets the
interval of the controller's re-encode throttle:

* at least :data:`BASE_MS`;
* at least the last placement's processor time over :data:`MAX_SHARE`, so placing keeps to that
  share of one core whatever the data set's size or the machine's speed;
* four times that while the person drags the probe (a move within :data:`DRAG_WINDOW_S`, told
  by :class:`DragClock`, which the window's side panels ask too): each re-encode costs the GUI
  thread a long frame, and a drag is when frames matter most.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The shortest interval between re-encodes while training (ms).
BASE_MS = 1500
#: The longest: the dots of a huge data set still move every so often (ms).
MAX_MS = 12_000
#: Placements keep to at most this share of one core (their processor time over the interval).
MAX_SHARE = 0.1
#: While the probe is dragged the interval is this many times longer.
DRAG_FACTOR = 4
#: A probe moved this recently (s) is being dragged.
DRAG_WINDOW_S = 0.5


def interval_ms(placement_cpu_s: float, dragging: bool) -> int:
    """The interval between re-encodes after a placement that took ``placement_cpu_s``."""
    ms = max(float(BASE_MS), 1000.0 * max(0.0, placement_cpu_s) / MAX_SHARE)
    if dragging:
        ms *= DRAG_FACTOR
    return int(round(min(ms, MAX_MS)))


class DragClock:
    """Whether the person is dragging the probe: it moved within the last :data:`DRAG_WINDOW_S`.

    The one owner of that fact. The controller tells it of each drag step (:meth:`moved`); the
    re-encode pacing and the window's side panels (given :meth:`dragging`) both ask it.
    ``clock`` is monotonic seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._moved_at: float | None = None

    def moved(self) -> None:
        """The probe moved a step of a drag, now."""
        self._moved_at = self._clock()

    def dragging(self) -> bool:
        """Whether the probe moved within the last :data:`DRAG_WINDOW_S`."""
        return self._moved_at is not None and self._clock() - self._moved_at <= DRAG_WINDOW_S


class EncodePacing:
    """Keeps ``set_interval_ms`` (the re-encode throttle's ``setTimeout``) at :func:`interval_ms`.

    The controller reports each probe move (:meth:`probe_moved`, after telling ``drag``) and
    each placement's cost (:meth:`placed`).
    """

    def __init__(self, set_interval_ms: Callable[[int], None], drag: DragClock) -> None:
        self._set = set_interval_ms
        self._drag = drag
        self._cost_s = 0.0
        self._interval: int | None = None
        self._apply()

    @property
    def interval(self) -> int:
        """The interval (ms) the throttle was last given."""
        return int(self._interval or BASE_MS)

    def probe_moved(self) -> None:
        """The probe moved (a drag step): re-encodes slow down until it rests."""
        if self._interval != interval_ms(self._cost_s, True):
            self._apply()

    def placed(self, cpu_s: float) -> None:
        """A placement finished after ``cpu_s`` seconds of processor time."""
        self._cost_s = max(0.0, float(cpu_s))
        self._apply()

    def _apply(self) -> None:
        interval = interval_ms(self._cost_s, self._drag.dragging())
        if interval != self._interval:
            self._interval = interval
            self._set(interval)
