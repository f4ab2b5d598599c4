"""MP4 video (H.264) of decoded frames: interpolations, traversals, probe paths, time-lapses.

The encoder is the ffmpeg binary shipped inside the ``imageio-ffmpeg`` wheel (the ``video``
extra: ``pip install "latentlab[video]"``), so nothing else needs installing. Frames are
streamed to the encoder one at a time (:class:`VideoWriter`), so memory stays bounded however
long the video is.

Writes are atomic like every export: the encoder writes a temporary file in the target's
folder, which replaces the target only once the video is complete. A failure or an exception
while frames are being written removes the temporary file and leaves the previous file alone.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentlab.core.atomic_file import AllOrNothing, check_destination
from latentlab.core.errors import LatentLabError
from latentlab.core.render import OutputSpec

__all__ = ["INSTALL_HINT", "MAX_FPS", "VideoInfo", "VideoWriter", "probe_video", "save_mp4", "write_mp4"]

INSTALL_HINT = 'pip install "latentlab[video]"'
MAX_FPS = 120.0
MAX_SIDE = 8192   # pixels; far beyond any frame LatentLab renders


def _ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise LatentLabError(
            f"writing MP4 video needs the imageio-ffmpeg package; install it with: {INSTALL_HINT}"
        ) from None
    return imageio_ffmpeg


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
        raise LatentLabError(f"frames per second must be above 0 and at most {MAX_FPS:g}, got {fps}")
    return float(fps)


def _rgb(frame: np.ndarray) -> np.ndarray:
    """A uint8 ``H x W`` or ``H x W x 3`` frame as ``H x W x 3``."""
    if frame.dtype != np.uint8:
        raise LatentLabError(f"video frames must be uint8 pixels, got {frame.dtype}")
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise LatentLabError(f"a video frame is H x W or H x W x 3 pixels, got shape {frame.shape}")


class VideoWriter(AllOrNothing):
    """Stream uint8 frames into an MP4 file, all or nothing.

    Use as a context manager: ``with VideoWriter(path, fps) as w: w.append(frame)``. The first
    frame fixes the size; every later frame must match it. H.264 in the common yuv420p pixel
    format needs even sides, so an odd side is padded with one white row or column. Leaving the
    block with an exception (or calling :meth:`abort`) discards the video.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float = 12.0) -> None:
        self._ffmpeg = _ffmpeg()
        self.fps = _check_fps(fps)
        self.path, folder, name = check_destination(path)
        # ffmpeg picks the container from the suffix, so the temporary name keeps ".mp4".
        self._tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp.mp4")
        self._gen: Any = None
        self.size: tuple[int, int] | None = None   # (width, height) as written
        self.frames = 0

    def append(self, frame: np.ndarray) -> None:
        """Add one uint8 frame ``H x W`` (grey) or ``H x W x 3`` (RGB)."""
        px = _rgb(np.asarray(frame))
        h, w = px.shape[:2]
        if self._gen is None:
            if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
                raise LatentLabError(f"a video frame must be 1 to {MAX_SIDE} pixels a side, got {w}x{h}")
            self._src = (h, w)
            self.size = (w + w % 2, h + h % 2)
            self._gen = self._ffmpeg.write_frames(
                self._tmp, self.size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", macro_block_size=1, quality=None,
                output_params=["-crf", "18", "-preset", "veryfast", "-movflags", "+faststart"],
                ffmpeg_log_level="error")
            self._send(None)
        elif (h, w) != self._src:
            self.abort()
            raise LatentLabError(f"every frame of a video must have the same size: the first was "
                                 f"{self._src[1]}x{self._src[0]}, frame {self.frames + 1} is {w}x{h}")
        if self.size != (w, h):
            padded = np.full((self.size[1], self.size[0], 3), 255, np.uint8)
            padded[:h, :w] = px
            px = padded
        self._send(np.ascontiguousarray(px).tobytes())
        self.frames += 1

    def _send(self, data: bytes | None) -> None:
        try:
            self._gen.send(data)
        except (OSError, RuntimeError, StopIteration) as exc:
            self.abort()
            raise LatentLabError(f"could not write '{self.path}': the video encoder failed ({exc})") from None

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._gen is None:
            raise LatentLabError("a video needs at least one frame")
        gen, self._gen = self._gen, None
        try:
            gen.close()
            with open(self._tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self._tmp, self.path)
        except (OSError, RuntimeError) as exc:
            self._remove_tmp()
            raise LatentLabError(f"could not write '{self.path}': {getattr(exc, 'strerror', None) or exc}") from None

    def abort(self) -> None:
        """Stop the encoder and remove the unfinished file; the target is left as it was."""
        gen, self._gen = self._gen, None
        if gen is not None:
            try:
                gen.close()
            except Exception:  # noqa: BLE001 - the encoder may already be gone; the file goes anyway
                pass
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        try:
            os.unlink(self._tmp)
        except OSError:
            pass


def write_mp4(path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float = 12.0) -> int:
    """Write uint8 frames (any iterable, consumed one at a time) as MP4; returns the frame count."""
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.append(frame)
        count = writer.frames
    return count


def save_mp4(
    path: str | os.PathLike[str],
    frames: torch.Tensor | Sequence[Any],
    fps: float = 12,
    pingpong: bool = False,
    scale: int = 1,
    *,
    spec: OutputSpec | None = None,
    size: int | Sequence[int] | None = None,
) -> None:
    """Write decoded outputs ``[T, ...]`` as an MP4 video, as :func:`~latentlab.core.export.save_gif` does.

    Images are written as their pixels (upscaled by ``scale``), sequences rendered first at
    ``size``; ``pingpong`` plays forwards then backwards without repeating the ends.
    """
    from latentlab.core.export import _frames  # the same frame list the GIF and APNG writers use

    _check_fps(fps)
    _ffmpeg()
    images = _frames(frames, pingpong, scale, spec, size)
    write_mp4(path, (np.asarray(img.convert("RGB")) for img in images), fps)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: frame count, size in pixels, frame rate and duration in seconds."""

    frames: int
    width: int
    height: int
    fps: float
    duration: float
    codec: str


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's frame count (decoded, so exact), size, frame rate, duration and codec."""
    import subprocess

    ffmpeg = _ffmpeg()
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise LatentLabError(f"'{name}' is not a file")
    try:
        frames, duration = ffmpeg.count_frames_and_secs(name)
        header = subprocess.run([ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", name],
                                capture_output=True, text=True, timeout=60).stderr
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        raise LatentLabError(f"'{name}' is not a video this tool reads ({exc})") from None
    stream = re.search(r"Video: (\w+).*?, (\d+)x(\d+)[ ,].*?([\d.]+) fps", header)
    if stream is None:
        raise LatentLabError(f"'{name}' holds no video stream this tool reads")
    return VideoInfo(frames=int(frames), width=int(stream.group(2)), height=int(stream.group(3)),
                     fps=float(stream.group(4)), duration=float(duration), codec=stream.group(1))
