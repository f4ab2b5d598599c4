"""Reading a CSV series while it grows, and the procedural stream as a data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.data.series import read_series
from latentlab.core.data.series_tail import SeriesTail
from latentlab.core.errors import LatentLabError


def append(path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_only_complete_new_rows_are_read_and_they_match_the_whole_file(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("time,a,b\n0,1,2\n1,3,4\n2,5,")
    tail = SeriesTail(path)
    first = tail.read()
    assert tail.names == ("a", "b")
    np.testing.assert_array_equal(first, [[1, 2], [3, 4]])
    assert tail.read().shape == (0, 2)           # the half row waits
    append(path, "6\n3,7,8\r\n")
    np.testing.assert_array_equal(tail.read(), [[5, 6], [7, 8]])
    append(path, "\n")                           # a blank line at the end is not a row (yet)
    assert tail.read().shape == (0, 2)
    assert tail.rows == 4
    values, names = read_series(path)
    assert names == tail.names and np.array_equal(values, [[1, 2], [3, 4], [5, 6], [7, 8]])


def test_a_bad_new_row_is_named_by_its_row_in_the_file(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    tail = SeriesTail(path)
    tail.read()
    append(path, "5,6\n7,nan\n")
    with pytest.raises(LatentLabError, match=r"row 5: column 2 is NaN"):
        tail.read()
    tail2 = SeriesTail(path)
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(LatentLabError, match=r"row 3: 1 columns where the header has 2"):
        tail2.read()


def test_a_truncated_or_rewritten_file_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    tail = SeriesTail(path)
    tail.read()
    path.write_text("a,b\n1,2\n")
    with pytest.raises(LatentLabError, match="truncated or rewritten"):
        tail.read()
    tail = SeriesTail(path)
    tail.read()
    path.write_text("a,b\n9,9\n5,6\n")               # longer, but its first rows changed
    with pytest.raises(LatentLabError, match="rewritten"):
        tail.read()
    path.unlink()
    with pytest.raises(LatentLabError, match="gone"):
        tail.read()


def test_bounds_and_headers_are_checked(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("1,2\n3,4\n")
    with pytest.raises(LatentLabError, match="row 1: the first row must be a header"):
        SeriesTail(path).read()
    path.write_text("a,b\n" + "1,2\n" * 50)
    with pytest.raises(LatentLabError, match="bytes a series file may have"):
        SeriesTail(path, max_bytes=100).read()
    with pytest.raises(LatentLabError, match="more than the 10 rows"):
        SeriesTail(path, max_rows=10).read()


def test_the_procedural_stream_is_a_sequence_source_that_reloads_exactly():
    data = load_dataset({"kind": "stream", "length": 3000, "window": 32, "stride": 8})
    assert data.kind == "sequence" and data.feature_names == ("ch0", "ch1", "ch2")
    assert data.images.shape == ((3000 - 32) // 8 + 1, 32, 3) and data.labels is None
    flat = data.images[:, :8].reshape(-1, 3)   # the windows' first strides tile the series
    assert abs(float(flat.mean())) < 0.1 and abs(float(flat.std()) - 1) < 0.1   # standardised
    again = load_dataset(data.source)
    assert torch.equal(again.images, data.images)
    marked = load_dataset({"kind": "stream", "length": 3000, "anomalies": 9, "window": 32, "stride": 8})
    assert marked.class_names == ("normal", "anomaly") and 0 < int(marked.labels.sum()) < len(marked)
    # The same system scaled with the recorded centre and scale, as scoring a new stream does.
    other = load_dataset({**data.source, "seed": 5})
    assert other.source["center"] == data.source["center"]
    assert load_dataset("stream").source["kind"] == "stream"
    with pytest.raises(LatentLabError, match="channels must be a whole number"):
        load_dataset({"kind": "stream", "channels": 0})
