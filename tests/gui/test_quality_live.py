"""Sample quality in the window: measured in the background while a model trains, shown, saved
in the history; the best snapshot offered when training ends; warnings that clear on a new run."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QTabBar

from latentlab.core import quality
from latentlab.core.checkpoint import load_model
from latentlab.core.device import cpu_state
from latentlab.core.models import build_model
from latentlab.core.training import Progress
from latentlab.gui.quality_watch import COLLAPSE_MEASUREMENTS, COLLAPSE_SKIP_EPOCHS, Measurement
from latentlab.gui.views.quality_view import format_fd
from latentlab.gui.window.main_window import DISCARD
from tests.gui.controller_support import training_settings

SAMPLES = 200   # a fifth of the app's count: the same code, a faster test


def _window(opened):
    window, c = opened()
    c.quality.samples = SAMPLES
    c.quality.ask_use_best = lambda text, answered: pytest.fail(f"unexpected offer: {text}")
    return window, c


def _wait_for_final(qtbot, c, timeout: int = 60000) -> Measurement:
    qtbot.waitUntil(lambda: c.run.status == "idle" and not c.quality.busy and c.quality.state.latest is not None
                    and c.quality.state.latest.final, timeout=timeout)
    return c.quality.state.latest


def _gan(epochs: int):
    return training_settings(epochs=epochs, family="gan", hidden=[16])


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_sample_quality_is_measured_off_the_gui_thread_shown_and_saved(qtbot, opened, monkeypatch, tmp_path,
                                                                       family):
    threads = []
    real_generate = quality.generate

    def generate(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(quality, "generate", generate)
    window, c = _window(opened)
    assert window.quality.headline_text() == "Sample quality: not measured yet."
    assert not window.quality.badge.isVisibleTo(window)
    assert c.start_training(training_settings(epochs=2, family=family, hidden=[16]))
    final = _wait_for_final(qtbot, c)
    assert threads and threading.get_ident() not in threads   # never on the GUI thread

    # The values are core's sample quality of the final weights against the run's validation images.
    _train, val = c.data.split(0.2, 0)
    expected = quality.sample_quality(c.model, c.data.images[val[:SAMPLES]], n=SAMPLES)
    assert final.epoch == 2 and final.samples == SAMPLES
    assert final.sample_fd == pytest.approx(expected["sample_fd"], rel=1e-9)
    assert final.class_coverage == expected["class_coverage"] and final.num_classes == 10
    assert final.class_entropy == pytest.approx(expected["class_entropy"], abs=1e-12)

    # Shown: the headline, the status-bar badge, the curve and the coverage bars.
    coverage = f"{final.class_coverage}/10 classes"
    assert f"Sample FD {format_fd(final.sample_fd)} · {coverage}" in window.quality.headline_text()
    assert window.quality.badge.isVisibleTo(window)
    assert window.quality.badge.text() == f"FD {format_fd(final.sample_fd)} · {coverage}"
    x, y = window.quality.curve_points()
    assert x[-1] == 2 and y[-1] == pytest.approx(final.sample_fd)
    bars_x, heights = window.quality.coverage_bars()
    assert bars_x[-1] == 2 and heights[-1] == final.class_coverage

    # In the run's history, saved with the model, and shown again when it is opened.
    assert c.run.history[-1]["quality"]["sample_fd"] == final.sample_fd
    folder = tmp_path / "model"
    assert c.save_model(str(folder))
    saved = load_model(folder).meta["history"]
    assert saved[-1]["quality"]["class_coverage"] == final.class_coverage
    c.set_model(None)
    assert len(window.quality.curve_points()[0]) == 0
    assert c.open_model(str(folder))
    x, y = window.quality.curve_points()
    measured = [h["epoch"] for h in saved if "quality" in h]   # epoch 1 too when its measurement came in time
    assert list(x) == measured and x[-1] == 2 and y[-1] == pytest.approx(final.sample_fd)


@pytest.mark.parametrize("use_best", [True, False])
def test_the_best_snapshot_is_offered_when_training_ends(qtbot, opened, use_best):
    window, c = _window(opened)
    asked = []
    c.quality.ask_use_best = lambda text, answered: (asked.append(text), answered(use_best))
    ended = {}
    c.training.resultReady.connect(lambda model: ended.setdefault("state", cpu_state(model)))
    assert c.start_training(_gan(epochs=3))
    c.pause_training()   # before its first step: the snapshot below is this run's best
    qtbot.waitUntil(lambda: c.run.status == "paused")
    torch.manual_seed(7)
    best = cpu_state(build_model(c.model.config))
    c.quality.record(Measurement(1, 1.0, 10, 10, 2.3, SAMPLES), best)
    c.resume_training()
    final = _wait_for_final(qtbot, c)

    assert len(asked) == 1
    assert asked[0].startswith(f"Epoch 1 had the best sample FD (1.0) — the final epoch has "
                               f"{final.sample_fd:.1f}.")
    weights = c.model.state_dict()
    kept = best if use_best else ended["state"]
    assert all(torch.equal(weights[k], kept[k]) for k in kept)
    assert c.run.unsaved
    if use_best:
        # The model is that epoch's now: later epochs leave its history (and its curves).
        assert [h["epoch"] for h in c.run.history] == [1]
        assert c.quality.state.chosen.epoch == 1
        assert "Using the snapshot of epoch 1" in window.quality.note.text()
        assert not np.allclose(weights[next(iter(kept))].numpy(), ended["state"][next(iter(kept))].numpy())
    else:
        assert [h["epoch"] for h in c.run.history] == [1, 2, 3]
        assert c.quality.state.chosen is None
        assert window.quality.note.text().endswith("Kept the final weights.")


def test_no_offer_when_the_final_weights_are_the_best(qtbot, opened):
    window, c = _window(opened)   # an offer fails the test
    assert c.start_training(_gan(epochs=2))
    c.pause_training()
    qtbot.waitUntil(lambda: c.run.status == "paused")
    torch.manual_seed(7)
    c.quality.record(Measurement(1, 1e9, 1, 10, 0.0, SAMPLES), cpu_state(build_model(c.model.config)))
    c.resume_training()
    final = _wait_for_final(qtbot, c)
    assert c.quality.state.best == final
    assert [h["epoch"] for h in c.run.history] == [1, 2]


def _front_tab(window) -> str:
    """The title of the dock in front of the tabs the sample quality shares."""
    bar = next(b for b in window.findChildren(QTabBar)
               if "Sample Quality" in [b.tabText(i) for i in range(b.count())])
    return bar.tabText(bar.currentIndex())


def _won(epoch: int) -> Progress:
    terms = {"d_loss": 0.01, "g_loss": 6.0, "d_real": 1.0, "d_fake": 0.0}
    return Progress(epoch=epoch, epochs=10, step=epoch * 8, steps_per_epoch=8, terms=terms, images_per_s=1.0,
                    eta_s=0.0, epoch_done=True)


def test_a_discriminator_that_wins_outright_warns_until_a_new_run(qtbot, opened):
    window, c = _window(opened)
    c.quality.ask_use_best = lambda _text, answered: answered(False)
    assert c.start_training(_gan(epochs=10))
    c.pause_training()
    qtbot.waitUntil(lambda: c.run.status == "paused")
    for epoch in (1, 2):
        c.quality.epoch_closed(_won(epoch), epoch)
    assert window.quality.warning_text() == ""   # not yet a sustained stretch
    window.loss_dock.raise_()
    assert _front_tab(window) == "Loss"
    c.quality.epoch_closed(_won(3), 3)
    assert _front_tab(window) == "Sample Quality"   # a new warning brings the display forward
    assert "The discriminator has won outright" in window.quality.warning_text()
    assert "spectral normalisation" in window.quality.warning_text()
    assert window.quality.badge.text().startswith("⚠")
    c.stop_training()
    qtbot.waitUntil(lambda: c.run.status == "idle" and not c.quality.busy, timeout=60000)
    assert "discriminator" in window.quality.warning_text()   # it stays until the next run
    c.ask_unsaved = lambda _text: DISCARD
    assert c.start_training(_gan(epochs=1))
    assert window.quality.warning_text() == ""
    assert not window.quality.badge.text().startswith("⚠")
    _wait_for_final(qtbot, c)
    assert window.quality.warning_text() == ""


def test_samples_that_keep_to_few_classes_warn_of_mode_collapse(qtbot, opened):
    window, c = _window(opened)
    first = COLLAPSE_SKIP_EPOCHS + 1
    # The first epochs do not count: an untrained model draws a few blobs.
    for epoch in range(1, first):
        c.quality.record(Measurement(epoch, 900.0, 1, 10, 0.1, SAMPLES))
    for epoch in range(first, first + COLLAPSE_MEASUREMENTS - 1):
        c.quality.record(Measurement(epoch, 300.0, 3, 10, 0.9, SAMPLES))
    assert window.quality.warning_text() == ""
    c.quality.record(Measurement(first + COLLAPSE_MEASUREMENTS - 1, 280.0, 3, 10, 0.9, SAMPLES))
    text = window.quality.warning_text()
    assert "Mode collapse" in text and "at most 3 of 10 classes" in text
    assert f"epochs {first}–{first + COLLAPSE_MEASUREMENTS - 1}" in text


@pytest.mark.parametrize(("button", "expected"), [("Use the best snapshot", True), ("Keep the final", False)])
def test_the_window_asks_without_blocking_and_answers_by_the_button(qtbot, opened, button, expected):
    window, _c = opened(items=None)
    answers = []
    box = window.ask_use_best("Epoch 7 had the best sample FD (41.2) — the final epoch has 63.0.", answers.append)
    assert box.objectName() == "bestSnapshotDialog" and box.isVisible()
    assert answers == []   # it returned at once; the answer comes with the click
    clicked = next(b for b in box.buttons() if b.text() == button)
    clicked.click()
    qtbot.waitUntil(lambda: answers == [expected])


def test_a_dragged_probe_thins_the_measurements(qtbot, opened, monkeypatch):
    from latentlab.gui import quality_watch

    window, c = _window(opened)
    assert c.start_training(training_settings(epochs=10, family="vae", hidden=[16]))
    c.pause_training()
    qtbot.waitUntil(lambda: c.run.status == "paused", timeout=30000)
    assert c.quality.state.active
    sent: list[int] = []
    real_worker = c.quality._worker   # noqa: SLF001

    class Worker:   # the measurements sent, not run
        def submit(self, _kind, _job, on_result, on_error):
            sent.append(1)
            c.quality._in_flight = 0   # noqa: SLF001 - as if it had come back at once

    c.quality._worker = Worker()   # noqa: SLF001
    now = [1000.0]
    monkeypatch.setattr(quality_watch.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(c.drag_clock, "_clock", lambda: now[0])   # the controller's one drag clock

    def epoch(k: int, dragged: bool) -> None:
        if dragged:
            c.drag_clock.moved()
        c.quality._latest_state = {"k": k}   # noqa: SLF001 - a newer snapshot each epoch
        c.quality.epoch_closed(_won(k), k)

    try:
        epoch(1, dragged=True)
        assert len(sent) == 1            # the first in a while is measured
        now[0] += 1.0
        epoch(2, dragged=True)
        assert len(sent) == 1            # a second soon after waits while the probe moves
        now[0] += quality_watch.HELD_INTERVAL_S
        epoch(3, dragged=True)
        assert len(sent) == 2            # a long drag still sees a reading now and then
        now[0] += 1.0
        epoch(4, dragged=False)
        assert len(sent) == 3            # a resting probe: every epoch again
    finally:
        c.quality._worker = real_worker   # noqa: SLF001
