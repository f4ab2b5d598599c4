"""The standard data sets in the window: fetched off the GUI thread, with progress and Cancel.

Choosing Fashion-MNIST, KMNIST, MNIST (all of it), EMNIST letters or CIFAR-10 in the training
panel (``TrainingPanel.dataChosen``), or pressing Start with one chosen, fetches it first when it
is not in the cache yet: :class:`StandardDataFetcher` shows a :class:`DownloadDialog` (window
modal, so the window still repaints) while a :class:`DownloadThread` runs
:func:`latentlab.core.data.downloads.ensure`, which verifies every file by SHA-256.

* **Done**: the choice stays; a Start that was waiting goes on.
* **Cancel**: the thread stops between blocks; the bytes so far stay in ``<file>.part``, so the
  next try continues where this one stopped. The panel goes back to the previous choice.
* **Failure** (offline, a checksum mismatch): one message from core, naming the URL and the
  cache path where the file can be placed by hand; the panel goes back as for Cancel.

The thread never touches a widget: it reports through queued signals. Closing the window
cancels it, and the window waits for it (``MainWindow.adopt_thread``); a stalled connection
ends within the download's own timeout.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from latentlab.core.data import downloads
from latentlab.core.errors import LatentLabError

__all__ = ["DownloadDialog", "DownloadThread", "StandardDataFetcher"]

PROGRESS_INTERVAL_S = 0.1


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class DownloadThread(QThread):
    """Runs ``downloads.ensure(name)``; reports progress, success, or failure (and whether it
    was a cancel)."""

    progressed = Signal(str, int, int)   # file name, bytes so far, bytes in the file
    succeeded = Signal()
    failed = Signal(str, bool)           # the message, whether the person cancelled

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._stop = threading.Event()
        self._last_report = 0.0

    def cancel(self) -> None:
        """Stop after the block being read; the part downloaded so far is kept for next time."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def _report(self, file: str, done: int, total: int) -> None:
        # Blocks come as fast as the network gives them: tell the dialog a few times a second.
        now = time.monotonic()
        if done >= total or now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            self.progressed.emit(file, done, total)

    def run(self) -> None:
        try:
            downloads.ensure(self.name, progress=self._report, should_stop=self._stop.is_set)
        except LatentLabError as exc:
            self.failed.emit(str(exc), self._stop.is_set())
        except Exception as exc:  # noqa: BLE001 - reported in the window rather than lost in a thread
            self.failed.emit(f"{type(exc).__name__}: {exc}", self._stop.is_set())
        else:
            self.succeeded.emit()


class DownloadDialog(QDialog):
    """What is being fetched, how far it is, and Cancel (objectName ``"downloadDialog"``)."""

    cancelRequested = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        spec = downloads.SETS[name]
        self.setObjectName("downloadDialog")
        self.setWindowTitle(f"Downloading {spec.title.split(' (')[0]}")
        self._files = [f.name for f in spec.files]
        total = self._total = sum(f.size for f in spec.files)
        # Bytes of the files before each one: the bar covers the whole set.
        self._before = {f.name: sum(g.size for g in spec.files[:k]) for k, f in enumerate(spec.files)}
        layout = QVBoxLayout(self)
        intro = QLabel(f"<b>{html.escape(spec.title)}</b><br>{_megabytes(total)}, downloaded once into "
                       f"{html.escape(str(downloads.cache_folder(name)))}<br>Licence: {html.escape(spec.licence)}")
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.file_label = QLabel("Connecting…")
        self.file_label.setObjectName("downloadFile")
        layout.addWidget(self.file_label)
        self.bar = QProgressBar()
        self.bar.setObjectName("downloadProgress")
        self.bar.setRange(0, 1000)
        layout.addWidget(self.bar)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("downloadCancel")
        self.cancel_button.setToolTip("Stop now; the next try continues where this one stopped")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)

    def show_progress(self, file: str, done: int, total: int) -> None:
        k = self._files.index(file) + 1 if file in self._files else 1
        so_far = self._before.get(file, 0) + done
        self.file_label.setText(f"{_megabytes(so_far)} of {_megabytes(self._total)} · file {k} of "
                                f"{len(self._files)}: {file}")
        self.bar.setValue(int(1000 * so_far / self._total) if self._total else 0)

    def reject(self) -> None:
        # Escape, the close button and Cancel: ask the thread to stop; the fetcher closes the dialog.
        self.cancel_button.setEnabled(False)
        self.file_label.setText("Cancelling…")
        self.cancelRequested.emit()


class StandardDataFetcher(QObject):
    """Fetches standard data sets for ``window`` (a MainWindow) when the person needs one.

    Owned by the controller: it listens to the training panel's ``dataChosen`` itself, and the
    controller asks :meth:`needs` / :meth:`fetch` before a Start.
    """

    def __init__(self, window: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.thread: DownloadThread | None = None
        self.dialog: DownloadDialog | None = None
        window.training_panel.dataChosen.connect(self._on_chosen)
        window.closing.connect(self.cancel)

    @staticmethod
    def needs(spec: Any) -> bool:
        """Whether data ``spec`` is a standard set that is not in the cache yet."""
        return isinstance(spec, str) and spec in downloads.SETS and not downloads.is_cached(spec)

    @property
    def busy(self) -> bool:
        return self.thread is not None

    def _on_chosen(self, name: str) -> None:
        if self.needs(name):
            self.fetch(name, on_fail=self.window.training_panel.undo_data_choice)

    def fetch(self, name: str, then: Callable[[], Any] | None = None,
              on_fail: Callable[[], Any] | None = None) -> bool:
        """Download ``name`` with a progress dialog; ``then()`` once it is verified, ``on_fail()``
        after a cancel or an error. False (and nothing starts) while another download runs."""
        if self.thread is not None:
            self.window.show_status("A download is running already; wait for it or cancel it.")
            return False
        thread = DownloadThread(name, self)
        dialog = DownloadDialog(name, self.window)
        thread.progressed.connect(dialog.show_progress)
        thread.succeeded.connect(lambda: self._done(name, then))
        thread.failed.connect(lambda message, cancelled: self._failed(name, message, cancelled, on_fail))
        thread.finished.connect(thread.deleteLater)
        dialog.cancelRequested.connect(thread.cancel)
        self.thread, self.dialog = thread, dialog
        self.window.adopt_thread(thread)   # closing the window waits for it (after cancelling it)
        dialog.open()
        thread.start()
        return True

    def cancel(self) -> None:
        """Stop the running download, if any (the window is closing)."""
        if self.thread is not None:
            self.thread.cancel()

    def _close_dialog(self) -> None:
        self.thread = None   # it is ending; another download may start now
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.done(0)
            dialog.deleteLater()

    def _done(self, name: str, then: Callable[[], Any] | None) -> None:
        self._close_dialog()
        self.window.show_status(f"Downloaded and verified {downloads.SETS[name].title.split(' (')[0]}.")
        if then is not None:
            then()

    def _failed(self, name: str, message: str, cancelled: bool, on_fail: Callable[[], Any] | None) -> None:
        self._close_dialog()
        title = downloads.SETS[name].title.split(" (")[0]
        if cancelled:
            self.window.show_status(f"Cancelled the download of {title}; the next try continues where it stopped.")
        else:
            self.window.show_error(f"Could not download {title}", message)
        if on_fail is not None:
            on_fail()
