"""Export dialogs: real files through the core writers, cancel, overwrite, errors, options."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QCheckBox, QSpinBox

from latentlab.gui.tools import export_dialogs as ed

H, W = 5, 7


def _frames(n: int = 4, channels: int = 1) -> np.ndarray:
    # Distinct frames: a GIF writer may merge identical neighbours into one.
    base = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None, None]
    return np.broadcast_to(base, (n, channels, H, W)).copy()


@pytest.fixture
def answers(qtbot, monkeypatch, tmp_path):
    """Accept every options dialog with its defaults (or ``answers.options``), save to
    ``answers.path`` and answer the overwrite question with ``answers.replace``."""
    class Answers:
        path: str | None = str(tmp_path / "out.png")
        options: dict | None = None
        replace = True
        errors: list[str] = []
        asked: list[dict] = []
        overwrites: list[str] = []

    a = Answers()

    def confirm(_parent, path):
        a.overwrites.append(str(path))
        return a.replace

    def ask_options(_parent, _title, defaults):
        a.asked.append(dict(defaults))
        return None if a.options == {} else dict(defaults, **(a.options or {}))

    monkeypatch.setattr(ed, "_ask_options", ask_options)
    monkeypatch.setattr(ed, "_ask_save_path", lambda *_args: a.path)
    monkeypatch.setattr(ed.dialogs, "show_error", lambda _p, _t, msg: a.errors.append(msg))
    monkeypatch.setattr(ed.dialogs, "confirm_overwrite", confirm)
    return a


def test_strip_png_has_every_frame_side_by_side(answers, tmp_path) -> None:
    answers.options = {"scale": 3}
    written = ed.export_strip(None, _frames(4))
    assert written == answers.path
    with Image.open(written) as img:
        # four frames with 1-pixel gutters, then scaled
        assert img.size == (3 * (4 * W + 3), 3 * H)


def test_gif_and_apng_frame_counts_follow_ping_pong(answers, tmp_path) -> None:
    answers.path = str(tmp_path / "anim.gif")
    assert ed.export_gif(None, _frames(5), fps=10, loop=True, pingpong=False)
    with Image.open(answers.path) as gif:
        assert gif.n_frames == 5 and gif.size == (4 * W, 4 * H)
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100
    answers.path = str(tmp_path / "anim.png")
    answers.options = {"pingpong": True, "scale": 1}
    assert ed.export_apng(None, _frames(5, channels=3), fps=12)
    with Image.open(answers.path) as apng:
        assert apng.n_frames == 8 and apng.size == (W, H)   # 5 forwards, 3 back
    assert answers.asked[-1]["fps"] == 12


def test_missing_suffix_is_added(answers, tmp_path) -> None:
    answers.path = str(tmp_path / "loop")
    assert ed.export_gif(None, _frames(3)) == str(tmp_path / "loop.gif")
    assert (tmp_path / "loop.gif").is_file()


def test_decoded_png_accepts_display_arrays(answers) -> None:
    answers.options = {"scale": 2}
    grey = np.random.default_rng(0).random((H, W)).astype(np.float32)
    assert ed.export_decoded_png(None, grey)
    with Image.open(answers.path) as img:
        assert img.size == (2 * W, 2 * H) and img.mode == "L"
    answers.path = answers.path.replace("out.png", "colour.png")
    colour = np.random.default_rng(0).random((H, W, 3)).astype(np.float32)
    assert ed.export_decoded_png(None, colour)
    with Image.open(answers.path) as img:
        assert img.size == (2 * W, 2 * H) and img.mode == "RGB"


def test_grid_png_has_the_asked_columns(answers) -> None:
    answers.options = {"scale": 1}
    assert ed.export_grid_png(None, _frames(6), n_cols=3)
    with Image.open(answers.path) as img:
        assert img.size == (3 * W + 2, 2 * H + 1)


def test_codes_table_round_trips(answers, tmp_path) -> None:
    codes = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    answers.path = str(tmp_path / "codes.npz")
    assert ed.export_codes(None, codes, labels, ["a", "b", "c"])
    with np.load(answers.path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["codes"], codes)
        np.testing.assert_array_equal(z["labels"], labels)
    answers.path = str(tmp_path / "codes.csv")
    assert ed.export_codes(None, codes)
    assert (tmp_path / "codes.csv").read_text().splitlines()[0] == "z0,z1,z2"


def test_cancel_writes_nothing(answers, tmp_path) -> None:
    answers.path = None
    assert ed.export_strip(None, _frames()) is None
    assert ed.export_codes(None, np.zeros((2, 2))) is None
    answers.path = str(tmp_path / "never.gif")
    answers.options = {}   # the options dialog was cancelled
    assert ed.export_gif(None, _frames()) is None
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_kept_unless_replacing_is_confirmed(answers, tmp_path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    answers.replace = False
    assert ed.export_strip(None, _frames()) is None
    assert target.read_bytes() == b"precious"
    assert answers.overwrites == [str(target)]
    answers.replace = True
    assert ed.export_strip(None, _frames()) == str(target)
    with Image.open(target) as img:
        assert img.format == "PNG"


def test_a_failed_write_shows_the_error(answers, tmp_path) -> None:
    answers.path = str(tmp_path / "no such folder" / "strip.png")
    assert ed.export_strip(None, _frames()) is None
    assert answers.errors and "no such folder" in answers.errors[0]


def test_options_dialog_shows_only_the_asked_fields(qtbot) -> None:
    dialog = ed.ExportOptionsDialog("Export GIF", {"scale": 3, "fps": 15, "loop": True, "pingpong": False})
    qtbot.addWidget(dialog)
    assert dialog.values() == {"scale": 3, "fps": 15, "loop": True, "pingpong": False}
    dialog.findChild(QCheckBox, "export_pingpong").setChecked(True)
    dialog.fields["scale"].setValue(5)
    assert dialog.values()["pingpong"] is True and dialog.values()["scale"] == 5
    small = ed.ExportOptionsDialog("Export image", {"scale": 8})
    qtbot.addWidget(small)
    assert small.values() == {"scale": 8}
    assert small.findChildren(QCheckBox) == [] and len(small.findChildren(QSpinBox)) == 1
