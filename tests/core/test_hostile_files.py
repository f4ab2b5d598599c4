"""Files that lie about their size or depth are refused in one line, using little memory.

Every reader of user files (model folders and ``.latentlab`` zips, sessions, ``.npz``/``.npy``,
IDX, image folders and single images) meets a corpus of hostile files (``tests/hostile_files.py``)
in one subprocess. For each file the refusal must be a LatentLabError naming the file, and the
process's peak memory must grow by less than 200 MB over its baseline after importing torch
(about 300 MB on its own): measured with ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which only
grows, so each line checks everything up to and including that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentlab.core import safe_io
from latentlab.core.errors import LatentLabError
from tests import hostile_files as hf

ROOT = Path(__file__).resolve().parents[2]
GROWTH_LIMIT_MB = 200

_PROBE = r"""
import json, resource, sys
import torch
from latentlab.core.checkpoint import load_model
from latentlab.core.data import load_dataset, load_folder, load_image_file
from latentlab.core.errors import LatentLabError
from latentlab.core.session_file import load_session

torch.set_num_threads(1)
READERS = {"model": load_model, "session": load_session, "data": lambda p: load_dataset(p),
           "folder": lambda p: load_folder(p), "image": lambda p: load_image_file(p, (1, 28, 28))}
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak_mb()
for kind, path in json.loads(sys.argv[1]):
    try:
        READERS[kind](path)
        outcome = "accepted"
    except LatentLabError as exc:
        outcome = "refused: " + str(exc)
    except BaseException as exc:
        outcome = f"crashed: {type(exc).__name__}: {exc}"[:500]
    print(json.dumps({"path": path, "outcome": outcome, "growth_mb": peak_mb() - base}), flush=True)
"""


def _corpus(folder: Path) -> list[tuple[str, Path, str]]:
    """(reader, path, what the refusal must say) for every hostile file."""
    images = folder / "images"
    images.mkdir()
    hf.png_claiming_huge(images)
    hf.png_truncated(images)
    single = folder / "single"
    single.mkdir()
    return [
        ("model", hf.deep_model_folder(folder), "nested more than"),
        ("model", hf.oversized_weights_model(folder), "too large"),
        ("model", hf.deep_model_zip(folder), "nested more than"),
        ("session", hf.deep_session(folder), "nested more than"),
        ("data", hf.npz_bomb(folder), "decompression bomb"),
        ("data", hf.npz_lying_member(folder), "damaged"),
        ("data", hf.npz_declared_beyond_file(folder), "beyond the"),
        ("data", hf.npz_overflowing_size(folder), "too large"),
        ("data", hf.npz_duplicate_members(folder), "twice"),
        ("data", hf.npz_member_path(folder, "/abs/x.npy", "absolute"), "unsafe path"),
        ("data", hf.npz_member_path(folder, "../x.npy", "climbing"), "unsafe path"),
        ("model", hf.model_zip_member_path(folder, "../config.json", "climbing"), "unsafe path"),
        ("model", hf.model_zip_member_path(folder, "/config.json", "absolute"), "unsafe path"),
        ("data", hf.npy_overflowing_shape(folder), "more than"),
        ("data", hf.npy_truncated(folder), "truncated"),
        ("data", hf.npz_truncated(folder), "truncated"),
        ("data", hf.idx_gzip_bomb(folder), "decompression bomb"),
        ("data", hf.idx_truncated_gzip(folder), "truncated"),
        ("folder", images, "none of the 2 image files"),
        ("image", hf.png_claiming_huge(single), "too large"),
        ("image", hf.png_truncated(single), "truncated"),
    ]


def test_hostile_files_are_refused_cleanly_within_bounded_memory(tmp_path):
    corpus = _corpus(tmp_path)
    args = json.dumps([[kind, str(path)] for kind, path, _ in corpus])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _PROBE, args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(corpus)
    for (kind, path, expected), got in zip(corpus, results):
        print(f"{got['growth_mb']:6.1f} MB  {kind:8s} {path.name}: {got['outcome'][:160]}")
    for (kind, path, expected), got in zip(corpus, results):
        outcome = got["outcome"]
        assert outcome.startswith("refused: "), f"{path.name} ({kind}): {outcome}"
        assert str(path) in outcome, outcome
        assert expected in outcome, f"{path.name}: {outcome}"
        assert "\n" not in outcome
        assert got["growth_mb"] < GROWTH_LIMIT_MB, f"{path.name}: peak memory grew {got['growth_mb']:.0f} MB"


# -- the primitives, in process -----------------------------------------------------------------
@pytest.mark.parametrize(("text", "depth"), [
    ("[]", 1), ('{"a": [1, {"b": "[[[["}]}', 3), (r'["\\", [[1]]]', 3), (r'["\"[[", [1]]', 2),
    (r'"\\\"[[["', 0), ("1", 0), ('[{"x": "]]]"}, [[[]]]]', 4),
])
def test_json_depth_skips_brackets_inside_strings(text, depth):
    assert safe_io.json_depth(text) == depth
    assert safe_io.json_depth(text.encode()) == depth


def test_json_depth_carries_its_state_across_chunks():
    # A string opened in one scan chunk and closed in the next must hide its brackets.
    text = "[" + '"' + "x" * ((1 << 20) - 3) + "\\\\" + "[[[[" + '"' + ", [[]]]"
    assert safe_io.json_depth(text) == 3


def test_load_json_refuses_deep_nesting_and_giant_numbers():
    with pytest.raises(LatentLabError, match="nested more than 64"):
        safe_io.load_json(b"[" * 65 + b"]" * 65, "f.json")
    assert safe_io.load_json(b"[" * 64 + b"]" * 64, "f.json") is not None
    with pytest.raises(LatentLabError, match="f.json: not valid JSON"):
        safe_io.load_json(b"1" * 10_000, "f.json")
    with pytest.raises(LatentLabError, match="NaN"):
        safe_io.load_json(b"[NaN]", "f.json", allow_nan=False)


def test_read_npy_and_npz_round_trip_layouts(tmp_path):
    fortran = np.asfortranarray(np.arange(24, dtype=">i4").reshape(2, 3, 4))
    np.save(tmp_path / "f.npy", fortran)
    got = safe_io.read_npy(tmp_path / "f.npy")
    assert got.dtype == np.dtype(">i4") and np.array_equal(got, fortran)
    np.savez_compressed(tmp_path / "z.npz", x=fortran, names=np.array(["a", "bb"]), empty=np.zeros((0, 3)))
    arrays = safe_io.read_npz(tmp_path / "z.npz")
    assert np.array_equal(arrays["x"], fortran) and list(arrays["names"]) == ["a", "bb"]
    assert arrays["empty"].shape == (0, 3)


def test_read_npz_budget_counts_every_array(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros(600, np.uint8), b=np.zeros(600, np.uint8))
    assert set(safe_io.read_npz(tmp_path / "two.npz", max_bytes=1200)) == {"a", "b"}
    with pytest.raises(LatentLabError, match="more than the 400 bytes left of the 1,000 bytes"):
        safe_io.read_npz(tmp_path / "two.npz", max_bytes=1000)
    np.save(tmp_path / "one.npy", np.zeros(600, np.uint8))
    with pytest.raises(LatentLabError, match="one.npy"):
        safe_io.read_npy(tmp_path / "one.npy", max_bytes=599)


def test_zip_with_too_many_members_is_refused_before_its_directory_is_read(tmp_path):
    path = hf.npz_duplicate_members(tmp_path)
    with pytest.raises(LatentLabError, match="lists 2 members"):
        safe_io.open_zip(path, max_members=1)


def test_cli_info_on_a_deeply_nested_config_is_one_line(tmp_path):
    model = hf.deep_model_folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "latentlab", "info", str(model)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentlab: error: ") and "nested more than" in lines[0]
    assert str(model) in lines[0]
