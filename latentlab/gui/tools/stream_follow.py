"""Following a CSV series while another program appends to it.

:class:`FileFollower` looks at the file's size and time a few times a second (a timer on the GUI thread:
a watcher of file-system events misses files that are replaced or live on network drives) and,
when it changed, reads the complete rows appended since the last read through
:class:`latentlab.core.data.series_tail.SeriesTail` — only the new bytes, so following a long
file costs what the new rows cost. New rows leave as ``rowsAppended(values [k, F])``; a file
that was truncated or rewritten, or a bad new row, leaves as ``failed(message)`` and the
following stops (it never reads rows from the middle of something else).
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from latentlab.core.data.series_tail import SeriesTail
from latentlab.core.errors import LatentLabError

POLL_MS = 400


class FileFollower(QObject):
    """Polls ``tail``'s file and hands out the rows appended to it (see the module doc)."""

    rowsAppended = Signal(object)   # np.ndarray [k, F], raw values as in the file
    failed = Signal(str)

    def __init__(self, tail: SeriesTail, interval_ms: int = POLL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tail = tail
        self._seen: tuple[int, int] | None = None   # (size, mtime) at the last read
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        """Start following: read what was appended so far at once, then on every change."""
        self._seen = None
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        self._timer.stop()

    def is_active(self) -> bool:
        return self._timer.isActive()

    def poll(self) -> int:
        """Read the rows appended since the last read, if the file changed; how many were read."""
        try:
            info = os.stat(self.tail.path)
            seen = (info.st_size, info.st_mtime_ns)
        except OSError:
            seen = (-1, -1)   # gone: the reader says so in words
        if seen == self._seen:
            return 0
        self._seen = seen
        try:
            values = self.tail.read()
        except LatentLabError as exc:
            self.stop()
            self.failed.emit(str(exc))
            return 0
        if len(values):
            self.rowsAppended.emit(np.asarray(values, np.float32))
        return len(values)
