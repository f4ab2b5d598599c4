"""Guards the PySide6 pin: signal emission must not leak references to True/None.

PySide6 6.12.0 on Python 3.11 drops a reference to True on every emit; after ~10k emits the
interpreter aborts ("bool_dealloc"), which a live training run reaches in minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Emitter(QObject):
    fired = Signal(int)
e = Emitter()
e.fired.connect(lambda v: None)
before = sys.getrefcount(True), sys.getrefcount(None)
for i in range(30000):
    e.fired.emit(i)
after = sys.getrefcount(True), sys.getrefcount(None)
print(after[0] - before[0], after[1] - before[1])
"""


def test_signal_emission_keeps_refcounts_stable() -> None:
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert r.returncode == 0, r.stderr[-500:]
    d_true, d_none = (int(v) for v in r.stdout.split())
    assert abs(d_true) < 100 and abs(d_none) < 100
