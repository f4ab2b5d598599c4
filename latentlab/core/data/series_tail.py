"""Reading a CSV series that is still being written: the complete rows so far, then only new ones.

A logger or a sensor bridge appends rows to a file while LatentLab watches it. :class:`SeriesTail`
reads the file once from the start (the header and every complete row) and afterwards only the
bytes appended since: a row is taken once its line ends with a newline, so a row half-written
at the moment of reading waits for the next read instead of being misread as a shorter number.

The rules are those of :func:`latentlab.core.data.series.read_series`: a header naming every
column, an optional time column dropped, numbers only, no NaN, and the size bounds. A file that
became shorter than what was read, or whose bytes before that point changed (truncated, or
rewritten by another program), is one :class:`LatentLabError` saying so rather than rows read
from the middle of something else.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from latentlab.core.data.series import (
    MAX_CSV_BYTES, MAX_CSV_COLUMNS, MAX_CSV_ROWS, TIME_COLUMNS, _find_bad_row, _is_number,
)
from latentlab.core.errors import LatentLabError

#: How many bytes before the read position are compared on each read to notice a rewrite.
MARK_BYTES = 256


class SeriesTail:
    """Incremental reader of one CSV series file (see the module docstring).

    :meth:`read` returns the complete rows not returned before as float32 ``[k, F]`` (``k`` may
    be 0); :attr:`names` are the channel names once the header has been read and :attr:`rows`
    the number of data rows returned so far.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = MAX_CSV_BYTES,
                 max_rows: int = MAX_CSV_ROWS) -> None:
        self.path = Path(path).expanduser()
        self.max_bytes, self.max_rows = max_bytes, max_rows
        self.names: tuple[str, ...] = ()
        self.rows = 0
        self.offset = 0            # bytes consumed; always at the start of a line
        self._width = 0
        self._used: list[int] = []
        self._mark = b""           # the last bytes consumed, compared on every read

    def _fail(self, text: str) -> LatentLabError:
        return LatentLabError(f"{self.path}: {text}")

    def read(self) -> np.ndarray:
        """The complete rows appended since the last read (all of them the first time)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise self._fail("the file is gone (moved or deleted)" if self.names else "no such file") from None
        except OSError as exc:
            raise self._fail(f"cannot read the file ({exc.strerror or exc})") from None
        if size > self.max_bytes:
            raise self._fail(f"{size:,} bytes is more than the {self.max_bytes:,} bytes a series file may "
                             "have; cut it into shorter files")
        if size < self.offset:
            raise self._fail(f"the file is shorter than when it was last read ({size:,} bytes, "
                             f"{self.offset:,} read): it was truncated or rewritten. Open it again to "
                             "start from its new beginning.")
        start = self.offset - len(self._mark)
        try:
            with open(self.path, "rb") as f:
                f.seek(start)
                chunk = f.read(size - start)
        except OSError as exc:
            raise self._fail(f"cannot read the file ({exc.strerror or exc})") from None
        if not chunk.startswith(self._mark):
            raise self._fail("the rows already read have changed: the file was rewritten. Open it again "
                             "to start from its new beginning.")
        chunk = chunk[len(self._mark):]
        end = chunk.rfind(b"\n")
        if end < 0:
            return self._empty()
        complete = chunk[:end + 1]
        lines = complete.split(b"\n")[:-1]
        # Blank lines at the end are not rows (yet): they are consumed only with a row after them,
        # where, as in a whole file, a blank line is an error.
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            return self._empty()
        consumed = sum(len(line) + 1 for line in lines)
        try:
            text = [line.decode("utf-8").rstrip("\r") for line in lines]
        except UnicodeDecodeError:
            raise self._fail("not a text file (a row is not UTF-8)") from None
        first_row = self.rows + 2
        if not self.names:
            header = text.pop(0)
            self._read_header(header.removeprefix("\ufeff"))
        values = self._parse(text, first_row)
        self.offset += consumed
        self._mark = (self._mark + complete[:consumed])[-MARK_BYTES:]
        self.rows += len(values)
        return values

    def _empty(self) -> np.ndarray:
        return np.zeros((0, len(self._used)), np.float32)

    def _read_header(self, line: str) -> None:
        header = [h.strip() for h in line.split(",")]
        if not line.strip():
            raise self._fail("the first row is empty; it must be a header naming every column")
        if len(header) > MAX_CSV_COLUMNS:
            raise self._fail(f"row 1: {len(header)} columns; at most {MAX_CSV_COLUMNS} are read")
        if any(_is_number(h) for h in header) or any(not h for h in header):
            raise self._fail(f"row 1: the first row must be a header naming every column (got {line[:80]!r})")
        if len(set(header)) != len(header):
            raise self._fail("row 1: two columns share a name")
        used = list(range(1, len(header))) if header[0].lower() in TIME_COLUMNS else list(range(len(header)))
        if not used:
            raise self._fail("row 1: the only column is the time column; add a column of values")
        self._width, self._used = len(header), used
        self.names = tuple(header[c] for c in used)

    def _parse(self, rows: list[str], first_row: int) -> np.ndarray:
        if not rows:
            return self._empty()
        if self.rows + len(rows) > self.max_rows:
            raise self._fail(f"more than the {self.max_rows:,} rows a series may have")
        try:
            values = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", usecols=self._used,
                                dtype=np.float64, ndmin=2, comments=None)
            if values.shape[0] != len(rows):
                raise ValueError("blank rows")
            ragged = any(line.count(",") != self._width - 1 for line in rows)
        except ValueError:
            raise LatentLabError(_find_bad_row(rows, first_row, self._width, self._used, self.path)) from None
        if ragged:
            raise LatentLabError(_find_bad_row(rows, first_row, self._width, self._used, self.path))
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise self._fail(f"row {first_row + row}: column {self._used[col] + 1} is NaN or infinite; fill or "
                             "drop the missing values first")
        return values.astype(np.float32)
