"""Files replaced all or nothing: every file LatentLab writes whole goes through :func:`atomic_write`.

The bytes go to a temporary file in the target's folder (named ``.NAME.XXXXXXXX.tmp``, so
listings that skip dot files skip it), are flushed and fsynced, and only then renamed over the
target; the folder is synced too where the platform allows, so the rename itself survives a
crash. A failed write never leaves a half-written file or damages the previous one. A folder
that does not exist or cannot be written is one :class:`LatentLabError` naming the path.

Two writers place their files themselves: a model folder is swapped in whole by
:mod:`latentlab.core.checkpoint`, and an MP4 is written by its encoder to a temporary path
(:mod:`latentlab.core.video`, which checks its destination with :func:`check_destination`).

A file built up over many calls (a video frame by frame, a time-lapse snapshot by snapshot) is
an :class:`AllOrNothing`: used as a context manager it is finished when the block ends and
discarded when the block raises.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import IO, Any, TypeVar

from latentlab.core.errors import LatentLabError

__all__ = ["AllOrNothing", "atomic_write", "check_destination"]

_Self = TypeVar("_Self", bound="AllOrNothing")


def check_destination(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """``(absolute target, its folder, its name)`` for a file about to be written.

    Raises
    ------
    LatentLabError
        The folder does not exist, or ``path`` is a folder.
    """
    target = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(target)
    if not os.path.isdir(folder):
        raise LatentLabError(f"cannot save '{os.fspath(path)}': the folder '{folder}' does not exist")
    if os.path.isdir(target):
        raise LatentLabError(f"cannot save '{os.fspath(path)}': it is a folder, give a file name")
    return target, folder, name


def _open_temp(folder: str, name: str) -> tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the final permissions, unlike mkstemp's 0o600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise LatentLabError(f"cannot create a temporary file in '{folder}'")


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable on POSIX; folders cannot be opened this way on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace ``path`` with what ``write(binary_file)`` writes, all or nothing.

    An exception raised by ``write`` itself (other than an OSError) passes through unchanged,
    after the temporary file is removed.

    Raises
    ------
    LatentLabError
        The folder is missing, ``path`` is a folder, or the disk refuses the write.
    """
    target, folder, name = check_destination(path)
    try:
        fd, tmp = _open_temp(folder, name)
    except OSError as exc:
        raise LatentLabError(f"cannot save '{os.fspath(path)}': {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise LatentLabError(f"could not write '{os.fspath(path)}': {exc.strerror or exc}") from None
        raise
    _fsync_folder(folder)


class AllOrNothing:
    """A file written over many calls: :meth:`close` finishes it, :meth:`abort` discards it.

    ``with writer: ...`` closes it when the block ends and aborts it when the block raises, so
    an error never leaves a half-written file and the previous file at the target stays.
    Subclasses define both methods.
    """

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
