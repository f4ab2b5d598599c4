"""export-grid, interpolate and encode, run on the bundled pretrained model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_cli import REPO, run_cli

MODEL = str(REPO / "resources" / "models" / "mnist-vae-2d")


def test_export_grid_writes_an_n_by_n_sheet(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    r = run_cli("export-grid", "--model", MODEL, "--n", "6", "--scale", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.size == (6 * 28 * 2, 6 * 28 * 2)
        pixels = np.asarray(im.convert("L"), dtype=np.float32)
    # The corners of the prior grid decode to different digits: tiles must differ.
    tile = 28 * 2
    assert np.abs(pixels[:tile, :tile] - pixels[-tile:, -tile:]).mean() > 10


def test_interpolate_strip_gif_and_apng(tmp_path: Path) -> None:
    strip = tmp_path / "strip.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--via", "mnist:2", "--steps", "3", "--out", str(strip))
    assert r.returncode == 0, r.stderr
    frames = 3 + 2 * 3  # three waypoints and three new frames between each pair
    with Image.open(strip) as im:
        assert im.size[1] == 28 and im.size[0] >= frames * 28
    gif = tmp_path / "path.gif"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--steps", "4", "--slerp", "--gif", str(gif), "--pingpong")
    assert r.returncode == 0, r.stderr
    with Image.open(gif) as im:
        assert im.n_frames == 2 * 6 - 2  # forth, then back without repeating the ends
    apng = tmp_path / "path.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--steps", "4", "--apng", str(apng))
    assert r.returncode == 0, r.stderr
    with Image.open(apng) as im:
        assert im.n_frames == 6


def test_interpolate_from_an_image_file(tmp_path: Path) -> None:
    from latentlab.core.data import load_dataset

    digit = (load_dataset("mnist").images[7, 0].numpy() * 255).astype(np.uint8)
    Image.fromarray(digit).resize((56, 56)).save(tmp_path / "seven.png")
    out, ref = tmp_path / "s.png", tmp_path / "ref.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", str(tmp_path / "seven.png"),
                "--to", "mnist:3", "--steps", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert run_cli("interpolate", "--model", MODEL, "--from", "mnist:7", "--to", "mnist:3",
                   "--steps", "2", "--out", str(ref)).returncode == 0
    with Image.open(out) as a, Image.open(ref) as b:
        assert a.size == b.size == (4 * 28 + 3, 28)  # 4 frames with 1-pixel gutters
        strip, expected = (np.asarray(im.convert("L"), dtype=np.float32) for im in (a, b))
    # The enlarged file is read back to 28 x 28, so its path starts where the digit's own does.
    first = np.abs(strip[:, :28] - expected[:, :28]).mean()
    assert first < 0.25 * np.abs(expected[:, :28] - expected[:, -28:]).mean()


def test_encode_csv_and_npy(tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    r = run_cli("encode", "--model", MODEL, "--out", str(out))
    assert r.returncode == 0, r.stderr
    with out.open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["z0", "z1", "label"]
    assert len(rows) == 10001
    npy = tmp_path / "codes.npy"
    assert run_cli("encode", "--model", MODEL, "--out", str(npy)).returncode == 0
    codes = np.load(npy, allow_pickle=False)
    assert codes.shape[0] == 10000
    assert np.allclose(codes[:, :2], np.array([[float(v) for v in row[:2]] for row in rows[1:]]), atol=1e-4)


@pytest.mark.parametrize("args, fragment", [
    (("interpolate", "--model", MODEL, "--from", "mnist:99999", "--to", "mnist:1", "--out", "x.png"),
     "out of range"),
    (("interpolate", "--model", MODEL, "--from", "missing.png", "--to", "mnist:1", "--out", "x.png"),
     "missing.png"),
    (("export-grid", "--model", MODEL, "--n", "0", "--out", "g.png"), "--n"),
    (("export-grid", "--model", MODEL, "--out", "no/such/dir/g.png"), "no/such/dir"),
    (("encode", "--model", MODEL, "--out", "codes.txt"), "codes.txt"),
])
def test_export_mistakes_exit_2(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and fragment in r.stderr
    assert not any(tmp_path.iterdir())


# -- sequence models, run in-process (the toy families are registered by the test) ---------


@pytest.fixture
def toy_models(tmp_path: Path):
    """Saved toy sequence models: ``{"toy-strokes": folder, "toy-signals": folder}``."""
    from latentlab.core.checkpoint import save_model
    from tests.toy_sequence import toy_families, toy_model

    with toy_families():
        yield {name: save_model(tmp_path / name, toy_model(name)) for name in ("toy-strokes", "toy-signals")}


def _main(*args: str) -> int:
    from latentlab.cli import main

    return main(list(args))


def _sequence_file(tmp_path: Path, family: str, code: tuple[float, float], name: str) -> Path:
    """A sequence file as --raw writes it, decoded from ``code`` by the toy model."""
    from latentlab.core import export, inference
    from latentlab.core.render import output_spec
    from tests.toy_sequence import toy_model

    model = toy_model(family)
    out = inference.decode(model, np.array(code, np.float32))
    path = tmp_path / name
    export.save_sequences(path, out[0], output_spec(model.config).features)
    return path


def _frames_of(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        frames = []
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    return frames


@pytest.mark.parametrize("family", ["toy-strokes", "toy-signals"])
def test_interpolate_a_sequence_model_to_a_gif_strip_and_raw_values(tmp_path: Path, toy_models, family,
                                                                    capsys) -> None:
    start = _sequence_file(tmp_path, family, (-1.0, 1.0), "a.csv")
    end = _sequence_file(tmp_path, family, (1.0, -1.0), "b.csv")
    np.save(tmp_path / "b.npy", np.loadtxt(end, delimiter=",", skiprows=1, dtype=np.float32)[:, 2:])
    gif, raw = tmp_path / "path.gif", tmp_path / "path.csv"
    assert _main("interpolate", "--model", str(toy_models[family]), "--from", str(start),
                 "--to", str(tmp_path / "b.npy"), "--steps", "3", "--size", "48", "--scale", "2",
                 "--gif", str(gif), "--raw", str(raw)) == 0
    frames = _frames_of(gif)
    assert len(frames) == 5 and frames[0].shape == (96, 96, 3)
    assert all(np.abs(a - b).sum() > 0 for a, b in zip(frames, frames[1:]))
    # The raw values are the decoded path: it starts and ends at the two files' sequences.
    from latentlab.core.export import load_sequence

    with raw.open() as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 5 * 24 and rows[0][:2] == ["frame", "step"]
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]], np.float32).reshape(5, 24, -1)
    features = tuple(rows[0][2:])
    assert np.allclose(values[0], load_sequence(start, features), atol=1e-5)
    assert np.allclose(values[-1], load_sequence(end, features), atol=1e-5)
    strip = tmp_path / "strip.png"
    assert _main("interpolate", "--model", str(toy_models[family]), "--from", str(start), "--to", str(end),
                 "--steps", "2", "--out", str(strip)) == 0
    with Image.open(strip) as im:
        assert im.size == (4 * 96 + 3, 96)  # four frames of the default 96-pixel render
    assert "wrote" in capsys.readouterr().out


def test_export_grid_of_a_sequence_model_with_raw_values(tmp_path: Path, toy_models) -> None:
    out, raw = tmp_path / "grid.png", tmp_path / "grid.npy"
    assert _main("export-grid", "--model", str(toy_models["toy-strokes"]), "--n", "3", "--size", "32",
                 "--out", str(out), "--raw", str(raw)) == 0
    with Image.open(out) as im:
        assert im.size == (3 * 32 + 2, 3 * 32 + 2) and im.mode == "L"
        sheet = np.asarray(im, dtype=np.int16)
    assert np.abs(sheet[:32, :32] - sheet[-32:, -32:]).sum() > 0  # corners of the grid differ
    values = np.load(raw, allow_pickle=False)
    assert values.shape == (9, 24, 3) and values.dtype == np.float32


def test_raw_values_alone_need_no_picture(tmp_path: Path, toy_models) -> None:
    a = _sequence_file(tmp_path, "toy-signals", (0.5, 0.5), "a.npy")
    raw = tmp_path / "only.npy"
    assert _main("interpolate", "--model", str(toy_models["toy-signals"]), "--from", str(a), "--to", str(a),
                 "--steps", "1", "--raw", str(raw)) == 0
    assert np.load(raw).shape == (3, 24, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "only.npy", "toy-signals", "toy-strokes"]


@pytest.mark.parametrize("args, fragment", [
    (("interpolate", "--model", "{signals}", "--from", "{a}", "--to", "{a}"), "--out, --gif, --apng or --mp4"),
    (("interpolate", "--model", "{signals}", "--from", "{a}", "--to", "{a}", "--raw", "x.txt"), "--raw"),
    (("interpolate", "--model", "{signals}", "--from", "{a}", "--to", "{a}", "--size", "5000",
      "--out", "x.png"), "--size must be between"),
    (("interpolate", "--model", "{strokes}", "--from", "{a}", "--to", "{a}", "--out", "x.png"),
     "has no column x, y, pen"),
    (("interpolate", "--model", "{strokes}", "--from", "{short}", "--to", "{short}", "--out", "x.png"),
     "sequence shape (2, 3) does not match the model's (24, 3)"),
    (("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1", "--raw", "x.csv"),
     "makes images"),
    (("export-grid", "--model", MODEL, "--size", "40", "--out", "g.png"), "--scale"),
])
def test_sequence_option_mistakes_are_one_clear_line(tmp_path: Path, toy_models, capsys, monkeypatch,
                                                     args, fragment) -> None:
    a = _sequence_file(tmp_path, "toy-signals", (0.0, 1.0), "a.csv")
    short = tmp_path / "short.csv"
    short.write_text("x,y,pen\n0,0,1\n1,1,1\n")
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    filled = [v.format(signals=toy_models["toy-signals"], strokes=toy_models["toy-strokes"], a=a,
                       short=short) for v in args]
    assert _main(*filled) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert set(tmp_path.iterdir()) == before


def test_help_documents_the_sequence_options(capsys) -> None:
    with pytest.raises(SystemExit):
        _main("interpolate", "--help")
    text = capsys.readouterr().out
    assert "--raw" in text and "--size" in text and "frame,step" in text


def test_interpolate_to_mp4_with_pingpong(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="the video extra (imageio-ffmpeg) is not installed")
    from latentlab.core.video import probe_video

    mp4 = tmp_path / "path.mp4"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--steps", "4", "--fps", "6", "--scale", "3", "--pingpong", "--mp4", str(mp4))
    assert r.returncode == 0, r.stderr
    info = probe_video(mp4)
    assert (info.frames, info.width, info.height) == (10, 84, 84)
    assert info.duration == pytest.approx(10 / 6, abs=0.05)
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--fps", "0", "--mp4", str(tmp_path / "bad.mp4"))
    assert r.returncode == 2 and "frames per second" in r.stderr
    assert not (tmp_path / "bad.mp4").exists()
