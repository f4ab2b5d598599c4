"""Two native-level start-up steps of the desktop app, taken before any thread starts.

**Torch's library, loaded without the interpreter lock** (:func:`start`). Importing torch
spends a large share of its time in the dynamic loader: mapping ``libtorch_cpu`` and running
its static initialisers (every operator registers itself). An import holds Python's
interpreter lock throughout, so while torch imports on a background thread the window's own
imports and first paint wait for it. Calling the C library's ``dlopen`` through ctypes releases
the lock for the call: started first thing, the loader's work runs on the second core while
the GUI thread builds and paints the window, and the later ``import torch`` finds the library
loaded. The library has no Python in it, so loading it without the lock is safe; torch's own
import then loads its Python bindings as always. Only where the C library offers ``dlopen``
(Linux, macOS); anywhere else, and on any failure, nothing happens and torch imports as usual.

**Fewer malloc arenas** (:func:`limit_malloc_arenas`). glibc gives each new thread that
allocates an arena of its own, up to eight per core, and an arena keeps the memory it once
held. The window starts a thread per training run and per background job, so over a session
the arenas fill up one by one: measured, about 100 MB more resident memory after a dozen
training runs in one window, flat after that. Two arenas keep it within a few MB. Only with
glibc; elsewhere nothing happens.

Nothing here imports torch or Qt.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading

_started = False
_lock = threading.Lock()
#: glibc's mallopt parameter for the arena limit, and the limit the app uses.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2

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


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before threads start); True if it was set."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False   # not glibc, or the person chose a limit themselves
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(int(arenas))))
    except (OSError, AttributeError):
        return False
