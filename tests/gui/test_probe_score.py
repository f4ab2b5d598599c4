"""The off-manifold score under the probe: ring colour, the nearest real item, the density terms."""

from __future__ import annotations

import numpy as np

from latentlab.core.offmanifold import ManifoldMap
from latentlab.gui.views import theme
from tests.gui.controller_support import set_model_and_wait, tiny_model, wait_for_codes

ITEMS = 200


def _wait_for_map(qtbot, c) -> ManifoldMap:
    qtbot.waitUntil(lambda: c.probe_score.map is not None and len(c.probe_score.map) == len(c.data), timeout=10000)
    return c.probe_score.map


def test_the_probe_ring_and_the_panel_follow_the_score(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    wait_for_codes(qtbot, c)
    built = _wait_for_map(qtbot, c)
    assert built.variational  # a VAE: the aggregate posterior, with the encoder's variances
    codes = c.scene.codes
    # On a data item: on the data, that item nearest, its picture beside the decoded one.
    c.set_probe_code(codes[5] + 1e-5)
    # Wait for this position's own score (the previous one may also have been "on").
    qtbot.waitUntil(lambda: window.side.nearest.isVisible() and window.side.nearest.level == "on"
                    and "item 5" in window.side.nearest.text.text(), timeout=3000)
    assert window.plane.probe_color() == theme.LEVEL_COLORS["on"]
    np.testing.assert_allclose(window.side.nearest.thumb.current_image(), c.data.images[5, 0].numpy())
    text = window.side.nearest.text.text()
    assert "On the data" in text and "item 5" in text and "log q(z)" in text and "log p(z)" in text
    # Far beyond every code: off the data, in the off colour.
    far = codes.max(axis=0) + 50 * (codes.max(axis=0) - codes.min(axis=0))
    c.set_probe_code(far)
    qtbot.waitUntil(lambda: window.side.nearest.level == "off", timeout=3000)
    assert window.plane.probe_color() == theme.LEVEL_COLORS["off"]
    expected = built.score(far)
    assert f"{expected.ratio:.1f}×" in window.side.nearest.text.text()


def test_a_model_of_another_latent_size_is_never_scored_against_old_codes(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    wait_for_codes(qtbot, c)
    _wait_for_map(qtbot, c)
    set_model_and_wait(qtbot, c, tiny_model(latent_dim=3))
    # Until the new codes are mapped there is nothing to say; then the map has 3 dimensions.
    built = _wait_for_map(qtbot, c)
    assert built.dim == 3
    c.set_probe_code(c.scene.codes[0])
    qtbot.waitUntil(lambda: window.side.nearest.level == "on", timeout=3000)


def test_an_autoencoder_gets_a_kernel_density_not_a_posterior(qtbot, opened):
    window, c = opened(tiny_model(family="ae"), items=ITEMS)
    wait_for_codes(qtbot, c)
    built = _wait_for_map(qtbot, c)
    assert not built.variational
    c.set_probe_code(c.scene.codes[3])
    qtbot.waitUntil(lambda: window.side.nearest.level is not None, timeout=3000)
    text = window.side.nearest.text.text()
    assert "log density" in text and "log p(z)" not in text


def test_the_map_takes_the_placements_variances_without_encoding_the_data_again(qtbot, opened, monkeypatch):
    from latentlab.core import inference

    passes = []
    real = inference._encode_chunks

    def counted(*args, **kwargs):
        passes.append(kwargs.get("with_logvar"))
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "_encode_chunks", counted)
    model = tiny_model()
    window, c = opened(model, items=ITEMS)
    wait_for_codes(qtbot, c)
    built = _wait_for_map(qtbot, c)
    qtbot.wait(50)   # a second pass, had one been asked for, would have been queued by now
    assert passes == [True]   # one pass over the data gave both the codes and their variances
    assert built.variational
    _mu, logvar = real(model, c.data, 256, None, None, with_logvar=True)
    np.testing.assert_allclose(built._var, np.exp(logvar), rtol=1e-5)


def test_a_drag_is_scored_a_few_times_a_second_and_ends_on_the_last_position(qtbot, opened):
    import time

    from latentlab.gui.probe_score import SCORE_INTERVAL_MS

    window, c = opened(tiny_model(), items=ITEMS)
    wait_for_codes(qtbot, c)
    _wait_for_map(qtbot, c)
    c.set_probe_code(c.scene.codes[0])
    qtbot.wait(60)
    scored, at = [], []
    c.probe_score.scoreChanged.connect(lambda view: (scored.append(view), at.append(time.monotonic())))
    xy = c.scene.xy   # the plane of a 2-D model: every code has its place
    far = xy.max(axis=0) + 50 * (xy.max(axis=0) - xy.min(axis=0))
    c.move_probe(*xy[5])
    assert scored == []   # while the drag's frame is handled, the score waits for its spare time
    for k in range(1, 30):   # a drag on the data, a move every few milliseconds
        qtbot.wait(4)
        c.move_probe(*(xy[5] + 1e-4 * k))
    c.move_probe(*far)
    qtbot.waitUntil(lambda: scored and scored[-1].score.level == "off", timeout=2000)
    assert scored[0].score.level == "on"
    assert len(scored) < 15   # far fewer scores than moves
    gaps_ms = 1000 * np.diff(at)
    assert np.all(gaps_ms >= 0.8 * SCORE_INTERVAL_MS)   # a few times a second, not every frame
    assert scored[-1].score.level == "off"   # the position the drag ended on
    assert window.side.nearest.level == "off"
