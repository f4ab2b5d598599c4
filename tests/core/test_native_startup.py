"""The app's native start-up steps: torch's library found without importing torch; the arena cap."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from latentlab import native_startup


def run(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=full, timeout=120).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is for Linux and macOS")
def test_the_preload_loads_torchs_library_before_torch_is_imported_and_torch_then_works():
    out = run(
        "import sys, time\n"
        "from latentlab import native_startup\n"
        "path = native_startup.torch_library()\n"
        "print(path is not None and path.endswith('libtorch_cpu.so'))\n"
        "print(native_startup.start(), native_startup.start())\n"   # once only
        "for _ in range(600):\n"
        "    if path in open('/proc/self/maps').read(): break\n"
        "    time.sleep(0.05)\n"
        "print('torch' in sys.modules, path in open('/proc/self/maps').read())\n"
        "import torch\n"
        "print(float(torch.ones(3).sum()))\n")
    assert out.splitlines() == ["True", "True False", "False True", "3.0"]


def test_nothing_is_preloaded_once_torch_is_imported():
    import torch  # noqa: F401 - the test process has it already

    assert native_startup.torch_library() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_arena_cap_is_set_with_glibc_unless_the_person_chose_one():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    code = "from latentlab import native_startup; print(native_startup.limit_malloc_arenas())"
    assert run(code) == "True"
    assert run(code, MALLOC_ARENA_MAX="4") == "False"
