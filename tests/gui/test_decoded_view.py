"""The decoded view and the numpy -> QImage conversion it relies on."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from latentlab.gui.views import theme
from latentlab.gui.views.decoded_view import DecodedView
from latentlab.gui.views.qimage import array_to_qimage, array_to_qpixmap


@pytest.fixture
def view(qtbot) -> DecodedView:
    widget = DecodedView()
    qtbot.addWidget(widget)
    widget.resize(300, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _rgb(color: QColor) -> tuple[int, int, int]:
    return color.red(), color.green(), color.blue()


def _shot(widget) -> QImage:
    image = widget.grab().toImage()
    assert image.width() == widget.width()  # offscreen: device pixel ratio 1
    return image


# ------------------------------------------------------------------ conversion
def test_float_grey_image_maps_zero_one_to_black_white_and_clips() -> None:
    img = np.array([[0.0, 1.0, 0.5], [-3.0, 7.0, np.nan]], dtype=np.float32)
    q = array_to_qimage(img)
    assert q.format() == QImage.Format.Format_Grayscale8
    assert (q.width(), q.height()) == (3, 2)
    values = [[q.pixelColor(x, y).red() for x in range(3)] for y in range(2)]
    assert values == [[0, 255, 128], [0, 255, 0]]


def test_uint8_rgb_image_keeps_exact_values_even_when_not_contiguous() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    transposed = img.transpose(1, 0, 2)  # a strided view: 7 rows of 5
    q = array_to_qimage(transposed)
    assert q.format() == QImage.Format.Format_RGB888
    for y in range(7):
        for x in range(5):
            assert _rgb(q.pixelColor(x, y)) == tuple(transposed[y, x])


def test_qimage_owns_its_pixels(qapp) -> None:
    img = np.full((4, 6), 0.25, dtype=np.float64)
    q = array_to_qimage(img)
    img[:] = 1.0  # changing or freeing the source must not change the QImage
    del img
    gc.collect()
    assert q.pixelColor(5, 3).red() == 64
    assert not array_to_qpixmap(np.zeros((2, 2, 3))).isNull()


@pytest.mark.parametrize("shape", [(4,), (4, 4, 2), (0, 3), (2, 2, 2, 2)])
def test_bad_image_shapes_are_rejected(shape) -> None:
    with pytest.raises(ValueError, match="shape"):
        array_to_qimage(np.zeros(shape))


# ------------------------------------------------------------------ the widget
def test_current_image_is_exactly_what_was_set(view) -> None:
    img = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    view.set_image(img)
    got = view.current_image()
    assert got.dtype == np.float32 and np.array_equal(got, img)
    img[0, 0] = 9.0  # the caller reusing its buffer does not alter what is shown
    assert got[0, 0] != 9.0


def test_paints_the_image_large_and_pixel_sharp(view) -> None:
    # 2x2 checker: with smooth scaling the quarter points would blend towards grey.
    img = np.zeros((2, 2, 3), dtype=np.float32)
    img[0, 0] = img[1, 1] = (1.0, 0.0, 0.0)
    img[0, 1] = img[1, 0] = (0.0, 0.0, 1.0)
    view.set_image(img)
    rect = view.image_rect()
    assert rect.width() == rect.height() >= 250  # fills the widget, aspect kept
    shot = _shot(view)
    q = rect.width() // 4
    cx, cy = rect.center().x(), rect.center().y()
    assert _rgb(shot.pixelColor(cx - q, cy - q)) == (255, 0, 0)
    assert _rgb(shot.pixelColor(cx + q, cy - q)) == (0, 0, 255)
    assert _rgb(shot.pixelColor(cx - q, cy + q)) == (0, 0, 255)
    assert _rgb(shot.pixelColor(cx + q, cy + q)) == (255, 0, 0)


def test_wide_image_is_centred_with_its_aspect_ratio(view) -> None:
    img = np.full((10, 20), 1.0, dtype=np.float32)
    view.set_image(img)
    rect = view.image_rect()
    assert rect.width() == pytest.approx(2 * rect.height(), abs=2)
    assert abs(rect.center().y() - view.height() / 2) <= 2
    shot = _shot(view)
    assert _rgb(shot.pixelColor(rect.center())) == (255, 255, 255)
    above = rect.top() - 10  # outside the image: background
    assert _rgb(shot.pixelColor(rect.center().x(), above)) == _rgb(theme.qcolor(theme.BACKGROUND))


def test_uint8_grey_is_shown_as_given(view) -> None:
    view.set_image(np.full((8, 8), 77, dtype=np.uint8))
    assert _rgb(_shot(view).pixelColor(view.image_rect().center())) == (77, 77, 77)


def test_a_translucent_image_is_blended_over_the_background(view) -> None:
    img = np.zeros((4, 4, 4), dtype=np.uint8)
    img[..., 0], img[..., 3] = 255, 128          # red at half strength
    view.set_image(img)
    got = _rgb(_shot(view).pixelColor(view.image_rect().center()))
    back = _rgb(theme.qcolor(theme.BACKGROUND))
    want = (round(255 * 128 / 255 + back[0] * 127 / 255), round(back[1] * 127 / 255), round(back[2] * 127 / 255))
    assert all(abs(g - w) <= 2 for g, w in zip(got, want))
    assert np.array_equal(view.current_image(), img)   # what was set, not the converted pixels


def test_caption_takes_room_under_the_image(view) -> None:
    view.set_image(np.ones((28, 28), dtype=np.float32))
    full = view.image_rect()
    view.set_caption("z = (0.12, -1.40)")
    assert view.caption() == "z = (0.12, -1.40)"
    with_caption = view.image_rect()
    assert with_caption.bottom() < full.bottom()
    assert with_caption.bottom() < view.height() - view.fontMetrics().height()


def test_clear_drops_the_image_and_shows_the_hint(view) -> None:
    view.set_image(np.ones((28, 28), dtype=np.float32))
    view.clear("Train or open a model to decode")
    assert view.current_image() is None
    assert view.message() == "Train or open a model to decode"
    assert view.image_rect().isEmpty()
    # The old image is gone: a corner of where it was is background now.
    assert _rgb(_shot(view).pixelColor(20, 20)) == _rgb(theme.qcolor(theme.BACKGROUND))


def test_a_rejected_image_keeps_the_previous_one(view) -> None:
    img = np.zeros((3, 3), dtype=np.float32)
    view.set_image(img)
    with pytest.raises(ValueError):
        view.set_image(np.zeros((3, 3, 5)))
    assert np.array_equal(view.current_image(), img)
