"""Image files whose shape or size does not suit the model are refused with a reason, not squashed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latentlab.core.errors import LatentLabError
from latentlab.gui.tools import InterpolationPanel, interpolation
from latentlab.gui.tools.image_files import image_fit_problem, load_image_files
from tests.gui.test_tools_support import SIDE, FakeHost

MNIST = (1, 28, 28)


def _png(folder, name: str, width: int, height: int):
    path = folder / name
    Image.fromarray(np.full((height, width), 128, np.uint8)).save(path)
    return path


@pytest.mark.parametrize(("size", "words"), [
    ((1389, 84), ("strip.png", "1389 × 84", "16.5 : 1", "28 × 28", "middle 84 × 84")),
    ((84, 400), ("strip.png", "84 × 400", "1 : 4.76", "middle 84 × 84")),
    ((100, 28), ("strip.png", "100 × 28", "3.57 : 1")),
    ((10, 10), ("strip.png", "10 × 10", "blur")),
    ((13, 20), ("strip.png", "13 × 20", "blur")),
])
def test_a_picture_the_model_would_barely_see_is_refused_with_its_size(tmp_path, size, words) -> None:
    path = _png(tmp_path, "strip.png", *size)
    problem = image_fit_problem(path, MNIST)
    assert problem is not None
    for word in words:
        assert word in problem
    with pytest.raises(LatentLabError) as info:
        load_image_files([path], MNIST)
    assert str(info.value) == problem


@pytest.mark.parametrize("size", [(28, 28), (14, 14), (40, 28), (28, 50), (300, 250), (4000, 3000)])
def test_reasonable_pictures_are_taken(tmp_path, size) -> None:
    path = _png(tmp_path, "fine.png", *size)
    assert image_fit_problem(path, MNIST) is None
    assert load_image_files([path], MNIST).shape == (1, 1, 28, 28)


def test_the_aspect_is_judged_against_the_models_own(tmp_path) -> None:
    wide = _png(tmp_path, "wide.png", 120, 40)   # 3 : 1
    assert image_fit_problem(wide, (3, 32, 64)) is None    # a 2 : 1 model: 1.5 times off
    assert image_fit_problem(wide, (3, 64, 32)) is not None   # a 1 : 2 model: 6 times off


def test_one_bad_file_adds_nothing_and_every_bad_one_is_named(tmp_path) -> None:
    good, wide, tiny = (_png(tmp_path, "good.png", 30, 30), _png(tmp_path, "wide.png", 1389, 84),
                        _png(tmp_path, "tiny.png", 5, 5))
    with pytest.raises(LatentLabError) as info:
        load_image_files([good, wide, tiny], MNIST)
    message = str(info.value)
    assert "wide.png" in message and "tiny.png" in message and "good.png" not in message


def test_an_unreadable_file_still_gets_the_loaders_reason(tmp_path) -> None:
    (tmp_path / "notes.png").write_bytes(b"not an image")
    assert image_fit_problem(tmp_path / "notes.png", MNIST) is None
    with pytest.raises(LatentLabError, match="notes.png"):
        load_image_files([tmp_path / "notes.png"], MNIST)


def test_add_images_shows_the_reason_and_adds_nothing(qtbot, monkeypatch, tmp_path) -> None:
    host = FakeHost()
    ctrl = host.controller()
    panel = InterpolationPanel(ctrl)
    qtbot.addWidget(panel)
    shown: list[str] = []
    monkeypatch.setattr(interpolation.dialogs, "show_error", lambda _p, _t, msg: shown.append(msg))
    banner = _png(tmp_path, "banner.png", 20 * SIDE, SIDE)
    monkeypatch.setattr(interpolation, "_ask_files", lambda _parent: [str(banner)])
    panel.add_files_button.click()
    assert ctrl.waypoints == [] and panel.waypoint_list.count() == 0
    assert len(shown) == 1 and "banner.png" in shown[0] and f"{20 * SIDE} × {SIDE}" in shown[0]
