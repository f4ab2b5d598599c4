"""Decoding the probe: at once when a drag starts, then at most once a frame, and on release.

A drag reports every mouse move, far more often than frames are drawn. The first move of
a drag decodes at once (the leading edge: nothing waits for a timer), later moves within a
frame only leave their position in the :class:`~latentlab.gui.state.ProbeModel`, and the
frame's end decodes wherever the probe is then, so the last position is always shown.
Releasing the probe decodes at once. Throttling is superqt's ``qthrottled``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from superqt.utils import qthrottled

from latentlab.core.errors import LatentLabError
from latentlab.gui.state.probe import Probe, ProbeModel

log = logging.getLogger(__name__)

# Decode a dragged probe at most once per frame of a 120 Hz display. A mouse reports about
# every 16 ms; with a 16 ms window the throttle's phase locks against the moves and each one
# waits half a frame on average, while one decode takes a few milliseconds.
FRAME_MS = 8


@dataclass(frozen=True, eq=False)
class DecodedProbe:
    """What the decoder made of a probe: a display image (``H x W`` or ``H x W x 3``), the
    probe it was made from and a caption for it."""

    image: np.ndarray
    probe: Probe
    caption: str


class ProbeDecoder(QObject):
    """Turns the current probe into a :class:`DecodedProbe` (see the module doc).

    ``decode(z, condition)`` returns the display image of code ``z`` ``[D]``; ``caption(probe)``
    a line describing it. ``decoded`` carries each result, ``failed`` a line when a point
    cannot be decoded.
    """

    decoded = Signal(object)
    failed = Signal(str)

    def __init__(self, probe: ProbeModel, decode: Callable[[np.ndarray, int], np.ndarray],
                 caption: Callable[[Probe], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._probe, self._decode, self._caption = probe, decode, caption
        self.last: DecodedProbe | None = None
        self._throttled = qthrottled(self.decode_now, timeout=FRAME_MS, leading=True, parent=self)

    def request(self) -> None:
        """Decode soon: at once on the leading edge, else when the current frame ends."""
        self._throttled()

    def stop(self) -> None:
        """Forget a decode that is waiting for the frame's end."""
        self._throttled.cancel()

    def decode_now(self) -> bool:
        """Decode the probe now (a waiting throttled decode is dropped); False when nothing
        could be decoded."""
        self._throttled.cancel()
        probe = self._probe.value
        if probe.z is None:
            return False
        try:
            image = self._decode(probe.z, probe.condition)
        except Exception as exc:   # one bad point must not break the drag loop
            if not isinstance(exc, LatentLabError):
                log.error("decoding the probe failed", exc_info=exc)
            self.failed.emit(f"Could not decode this point: {exc}")
            return False
        self.last = DecodedProbe(image, probe, self._caption(probe))
        self.decoded.emit(self.last)
        return True
