"""Load torch's main native library on a thread that does not hold the interpreter lock.

Importing torch spends a large share of its time in the dynamic loader: mapping
``libtorch_cpu`` and running its static initialisers (every operator registers itself). An
import holds Python's interpreter lock throughout, so while torch imports on a background
thread the window's own imports and first paint wait for it. Calling the C library's
``dlopen`` through ctypes releases the lock for the call: started first thing, the loader's
work runs on the second core while the GUI thread builds and paints the window, and the later
``import torch`` finds the library loaded. The library has no Python in it, so loading it
without the lock is safe; torch's own import then loads its Python bindings as always.

Only where the C library offers ``dlopen`` (Linux, macOS); anywhere else, and on any failure,
nothing happens and torch imports as usual. Nothing here imports torch or Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading

_started = False
_lock = threading.Lock()

_NAMES = {"linux": "libtorch_cpu.so", "darwin": "libtorch_cpu.dylib"}


def torch_library() -> str | None:
    """The path of torch's main native library, found without importing torch (or None)."""
    name = next((n for prefix, n in _NAMES.items() if sys.platform.startswith(prefix)), None)
    if name is None or "torch" in sys.modules:
        return None
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = os.path.join(folder, "lib", name)
        if os.path.isfile(path):
            return path
    return None


def _load(path: str) -> None:
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_GLOBAL)   # a foreign call: the lock is released
    except Exception:   # only a head start; torch's import reports real problems itself
        pass


def start() -> bool:
    """Start loading torch's native library in the background (once); True if it started."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    path = torch_library()
    if path is None:
        return False
    threading.Thread(target=_load, args=(path,), name="torch-preload", daemon=True).start()
    return True
