"""The stream view: a long series scored by a stream autoencoder, drawn as a path on the plane,
played and scrubbed, thresholded, and followed while its file grows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from latentlab.core import inference
from latentlab.core.data.sequences import procedural_stream
from latentlab.core.data.series import load_series, standardise
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.scoring import score_series
from tests.gui.controller_support import set_model_and_wait

WINDOW, STRIDE = 16, 4
SPIKE_AT = 300


def stream_model(seed: int = 0):
    """A tiny untrained stream autoencoder over windows of two channels (a, b)."""
    config = ModelConfig(family="stream-ae", arch="conv", input_shape=(WINDOW, 2), latent_dim=2, hidden=(8, 16),
                         feature_names=("a", "b"))
    torch.manual_seed(seed)
    return build_model(config).eval()


def write_series(path, values: np.ndarray, start: int = 0, header: bool = True, mode: str = "w") -> None:
    lines = ["time,a,b"] if header else []
    lines += [f"{start + k},{a:.6f},{b:.6f}" for k, (a, b) in enumerate(values)]
    with open(path, mode, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def series_values(length: int = 480, spike: bool = True) -> np.ndarray:
    values, _ = procedural_stream(length, channels=2, seed=0)
    values = values.astype(np.float64)
    if spike:
        values[SPIKE_AT, 0] += 40.0   # one far-off sample: the windows holding it reconstruct badly
    return values


@pytest.fixture
def streaming(qtbot, opened, tmp_path):
    """A window with the tiny model on the series' own windows, and the series opened in the stream view."""
    csv = tmp_path / "series.csv"
    write_series(csv, series_values())
    window, c = opened(items=None)
    c.set_data(load_series(csv, WINDOW, STRIDE))
    model = stream_model()
    set_model_and_wait(qtbot, c, model)
    errors: list[str] = []
    c.stream.host = replace(c.stream.host, show_error=lambda title, text: errors.append(text))
    assert c.stream.open_series(str(csv))
    qtbot.waitUntil(lambda: len(c.stream.scores) > 0, timeout=10000)
    return window, c, csv, errors


def expected_scores(c, csv):
    """What the core scores for the file, scaled as the data on screen was."""
    src = c.data.source
    raw = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(1, 2), dtype=np.float64)
    scaled, _, _ = standardise(raw.astype(np.float32), src["center"], src["scale"])
    return scaled, score_series(c.model, scaled, STRIDE)


def test_the_path_is_the_scored_codes_and_scrubbing_moves_the_head_and_the_decoded_window(streaming, qtbot):
    window, c, csv, errors = streaming
    scaled, expected = expected_scores(c, csv)
    got = c.stream.scores
    np.testing.assert_array_equal(got.starts, expected.starts)
    np.testing.assert_allclose(got.codes, expected.codes, atol=1e-5)
    np.testing.assert_allclose(got.errors, expected.errors, rtol=1e-4, atol=1e-6)
    # The path on the plane is those codes in time order, projected on the plane on screen.
    xy = c.scene.plane.project(torch.from_numpy(expected.codes)).numpy()
    np.testing.assert_allclose(c.stream.overlay.path_xy(), xy, atol=1e-5)
    panel = window.docks["stream"].widget()
    assert panel is c.stream.panel and panel.slider.maximum() == len(expected) - 1
    # Scrubbing: the head, the probe and the decoded view move to that window.
    panel.slider.setValue(7)
    assert c.stream.head == 7
    np.testing.assert_allclose(c.stream.overlay.head_xy(), xy[7], atol=1e-5)
    np.testing.assert_allclose(c.probe.z, expected.codes[7], atol=1e-5)
    sequence = window.side.sequence
    reconstruction = inference.decode(c.model, expected.codes[7])[0].numpy()
    np.testing.assert_allclose(sequence.current_output(), reconstruction, atol=1e-5)
    start = int(expected.starts[7])
    np.testing.assert_allclose(sequence.reference(), scaled[start:start + WINDOW], atol=1e-5)
    assert "window 8 of" in panel.position_label.text()
    panel.slider.setValue(2)
    np.testing.assert_allclose(c.probe.z, expected.codes[2], atol=1e-5)
    # Moving the probe away leaves the window behind: its drawing goes.
    c.release_probe(5.0, 5.0)
    assert sequence.reference() is None
    assert not errors


def test_the_threshold_marks_the_windows_above_it(streaming):
    window, c, csv, _ = streaming
    panel = c.stream.panel
    scores = c.stream.scores
    spiked = (scores.starts <= SPIKE_AT) & (SPIKE_AT < scores.starts + WINDOW)
    # The default threshold (far above the typical error) picks out the windows holding the spike.
    np.testing.assert_array_equal(c.stream.anomalous(), spiked)
    assert panel.anomaly_label.text() == f"{int(spiked.sum())} anomalies of {len(scores)}"
    # Dragging the line lower marks every window above it, on the plot and on the path.
    value = float(np.quantile(scores.errors, 0.7))
    line = panel.threshold_line
    line.setValue(value)
    line.sigPositionChangeFinished.emit(line)
    above = scores.errors > value
    assert c.stream.threshold == pytest.approx(value)
    np.testing.assert_array_equal(np.sort(panel.marked_starts()), scores.starts[above])
    x, _ = c.stream.overlay.anomalies.getData()
    assert len(x) == int(above.sum())
    assert panel.anomaly_label.text() == f"{int(above.sum())} anomalies of {len(scores)}"
    # The head says whether its window is one of them.
    panel.slider.setValue(int(np.flatnonzero(above)[0]))
    assert panel.position_label.text().endswith("· anomaly")
    panel.slider.setValue(int(np.flatnonzero(~above)[0]))
    assert "anomaly" not in panel.position_label.text()


def test_play_moves_the_head_to_the_end_and_stops(streaming, qtbot):
    window, c, _, _ = streaming
    panel = c.stream.panel
    panel.speed_combo.setCurrentIndex(panel.speed_combo.count() - 1)   # the fastest
    panel.slider.setValue(len(c.stream.scores) - 6)
    panel.play_button.click()
    assert c.stream.is_playing() and panel.play_button.text().endswith("Pause")
    qtbot.waitUntil(lambda: not c.stream.is_playing(), timeout=5000)
    assert c.stream.head == len(c.stream.scores) - 1
    assert panel.play_button.text().endswith("Play")
    np.testing.assert_allclose(c.probe.z, c.stream.scores.codes[-1], atol=1e-6)


def test_following_a_growing_file_adds_its_new_windows(streaming, qtbot):
    window, c, csv, _ = streaming
    panel = c.stream.panel
    before = len(c.stream.scores)
    panel.follow_check.setChecked(True)
    assert c.stream.is_following()
    more, _ = procedural_stream(120, channels=2, seed=5)
    # Forty whole rows and one half-written row: only the whole ones are read.
    write_series(csv, more[:40], start=480, header=False, mode="a")
    with open(csv, "a", encoding="utf-8") as f:
        f.write("520,0.1")
    assert c.stream.poll() == 40
    qtbot.waitUntil(lambda: len(c.stream.scores) == before + 10, timeout=10000)
    assert len(c.stream.series) == 520
    # The rest of the half row, and more rows.
    with open(csv, "a", encoding="utf-8") as f:
        f.write("5,0.2\n")
    write_series(csv, more[41:80], start=521, header=False, mode="a")
    assert c.stream.poll() == 40
    qtbot.waitUntil(lambda: len(c.stream.scores) == before + 20, timeout=10000)
    # Every window, old and new, is what the core scores for the whole file now.
    _, expected = expected_scores(c, csv)
    got = c.stream.scores
    np.testing.assert_array_equal(got.starts, expected.starts)
    np.testing.assert_allclose(got.codes, expected.codes, atol=1e-5)
    np.testing.assert_allclose(c.stream.overlay.path_xy(),
                               c.scene.plane.project(torch.from_numpy(expected.codes)).numpy(), atol=1e-5)
    assert c.stream.head == len(got) - 1   # following: the head is at the newest window
    assert panel.slider.maximum() == len(got) - 1
    # Opening the file again starts over, not following until asked.
    assert c.stream.open_series(str(csv))
    qtbot.waitUntil(lambda: len(c.stream.scores) == len(got) and c.stream.head == 0, timeout=10000)
    assert not c.stream.is_following() and not panel.follow_check.isChecked()


def test_a_truncated_file_stops_following_with_a_message(streaming, qtbot):
    window, c, csv, errors = streaming
    panel = c.stream.panel
    panel.follow_check.setChecked(True)
    n = len(c.stream.scores)
    write_series(csv, series_values(100, spike=False))   # rewritten, shorter
    assert c.stream.poll() == 0
    assert not c.stream.is_following() and not panel.follow_check.isChecked()
    assert "truncated or rewritten" in panel.message.text() and panel.message.isVisible()
    assert "truncated or rewritten" in window.statusBar().currentMessage()
    assert len(c.stream.scores) == n   # what was scored stays
    assert not errors


def test_a_series_the_model_cannot_read_is_refused_in_words(qtbot, opened, tmp_path):
    window, c = opened(items=None)
    c.set_model(stream_model())
    errors: list[str] = []
    c.stream.host = replace(c.stream.host, show_error=lambda title, text: errors.append(text))

    def refused(path) -> str:
        # Read by the worker: the answer comes back as one message, in a dialog and in the panel.
        count = len(errors)
        assert c.stream.open_series(str(path))
        qtbot.waitUntil(lambda: len(errors) > count, timeout=10000)
        assert not c.stream.is_open() and c.stream.panel.message.text() == errors[-1]
        return errors[-1]

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("time,x,y\n0,1,2\n1,3,4\n")
    assert "columns x, y differ from the model's a, b" in refused(wrong)
    short = tmp_path / "short.csv"
    write_series(short, series_values(10, spike=False))
    assert "fewer than one window of 16 steps" in refused(short)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,oops\n")
    text = refused(bad)
    assert "row 3" in text and "not a number" in text
    assert "no such file" in refused(tmp_path / "missing.csv")


def test_an_image_model_cannot_open_a_series(qtbot, opened, tmp_path):
    from tests.gui.controller_support import tiny_model

    window, c = opened(tiny_model())
    errors: list[str] = []
    c.stream.host = replace(c.stream.host, show_error=lambda title, text: errors.append(text))
    csv = tmp_path / "s.csv"
    write_series(csv, series_values(64, spike=False))
    assert not c.stream.open_series(str(csv))
    assert "sequence model" in errors[-1]


def test_the_procedural_stream_opens_with_the_models_channels(qtbot, opened):
    window, c = opened(items=None)
    c.set_model(stream_model())
    assert c.stream.open_procedural(length=400, anomalies=3)
    qtbot.waitUntil(lambda: len(c.stream.scores) > 0, timeout=10000)
    assert c.stream.series.shape == (400, 2)
    assert len(c.stream.scores) == (400 - WINDOW) // max(1, WINDOW // 4) + 1
    assert not c.stream.panel.follow_check.isEnabled()   # nothing to follow
    # Another model on screen: the series is closed, with a word why.
    c.set_model(stream_model(seed=3))
    assert not c.stream.is_open() and len(c.stream.overlay.path_xy()) == 0
    assert "model on screen changed" in c.stream.panel.message.text()


# -- the training panel's sequence sources ---------------------------------------------------------
def choose_data(panel, kind: str) -> None:
    row = panel.data_combo.findData(kind)
    assert row >= 0, kind
    panel.data_combo.setCurrentIndex(row)
    panel.data_combo.activated.emit(row)


def choose_family(panel, family: str) -> None:
    panel.family_combo.setCurrentIndex(panel.family_combo.findData(family))


def test_the_training_panel_trains_a_sequence_vae_on_waves(qtbot, opened):
    window, c = opened(items=None)
    panel = window.training_panel
    choose_data(panel, "waves")
    # An image family cannot take sequences: Start waits and says why.
    choose_family(panel, "vae")
    assert any("models images" in p for p in panel.problems()) and not panel.start_button.isEnabled()
    choose_family(panel, "seq-vae")
    assert panel.problems() == [] and panel.start_button.isEnabled()
    panel.epochs_spin.setValue(1)
    panel.batch_spin.setValue(256)
    assert not panel.window_spin.isVisibleTo(panel)   # generated sequences are not cut from a series
    settings = panel.settings()
    assert settings.data == "waves" and settings.family == "seq-vae" and settings.arch == "mlp"
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.run.status == "idle" and bool(c.run.history), timeout=60000)
    assert c.model.config.family == "seq-vae" and c.data.source["kind"] == "waves"
    assert c.model.config.input_shape == (64, 1)
    assert window.side.output_kind == "sequence"


def test_the_training_panel_trains_a_stream_autoencoder_that_scores_a_stream(qtbot, opened):
    window, c = opened(items=None)
    panel = window.training_panel
    choose_data(panel, "stream")
    choose_family(panel, "stream-ae")
    assert panel.window_spin.isVisibleTo(panel) and panel.stride_spin.isVisibleTo(panel)
    # The architectures follow the family: a stream autoencoder is convolutional or recurrent.
    assert panel.arch_combo.currentData() in ("conv", "gru")
    assert not panel.arch_combo.model().item(panel.arch_combo.findData("mlp")).isEnabled()
    panel.window_spin.setValue(32)
    panel.stride_spin.setValue(8)
    panel.epochs_spin.setValue(1)
    settings = panel.settings()
    assert settings.data == {"kind": "stream", "window": 32, "stride": 8}
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.run.status == "idle" and bool(c.run.history), timeout=60000)
    assert c.model.config.family == "stream-ae" and c.model.config.input_shape == (32, 3)
    qtbot.waitUntil(lambda: c.scene.codes is not None, timeout=10000)
    # The trained model scores the procedural stream in the stream view, at its training stride.
    assert c.stream.open_procedural(length=1000, anomalies=4)
    qtbot.waitUntil(lambda: len(c.stream.scores) > 0, timeout=10000)
    assert len(c.stream.scores) == (1000 - 32) // 8 + 1


def test_the_csv_series_choice_carries_its_window_and_stride(qtbot, tmp_path, monkeypatch):
    from latentlab.gui.views.training_panel import TrainingPanel

    csv = tmp_path / "s.csv"
    write_series(csv, series_values(200, spike=False))
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    monkeypatch.setattr(panel, "_ask_path", lambda kind: str(csv))
    choose_data(panel, "csv")
    choose_family(panel, "rvae")
    panel.window_spin.setValue(16)
    panel.stride_spin.setValue(4)
    settings = panel.settings()
    assert settings.data == {"kind": "series", "path": str(csv), "window": 16, "stride": 4}
    assert settings.arch == "gru"   # the recurrent VAE's one architecture, whatever was chosen before
    panel.window_spin.lineEdit().setText("1")
    assert any(p.startswith("Window must be at least 2") for p in panel.problems())
    assert panel.settings() is None
    panel.window_spin.setValue(16)
    # Remembered between launches: the file and its window.
    again = TrainingPanel()
    qtbot.addWidget(again)
    again.apply_choices(panel.choices())
    assert again.settings().data == settings.data


def test_the_decoded_view_draws_a_reference_beneath_the_output(qtbot):
    from latentlab.core.render import OutputSpec
    from latentlab.gui.views.sequence_view import SequenceView

    view = SequenceView()
    qtbot.addWidget(view)
    spec = OutputSpec("sequence", (WINDOW, 2), ("a", "b"))
    output = np.zeros((WINDOW, 2))
    view.set_output(output, spec)
    window = np.zeros((WINDOW, 2))
    window[5, 1] = 9.0   # a spike the output does not have: the range grows to show it
    view.set_reference(window, "window")
    np.testing.assert_allclose(view.reference(), window)
    assert view.view_range()[3] > 9.0
    view.set_output(output + 0.5, spec)          # a new output keeps the reference
    np.testing.assert_allclose(view.reference(), window)
    with pytest.raises(Exception, match="expected a sequence"):
        view.set_reference(np.zeros((WINDOW, 3)))
    view.set_reference(None)
    assert view.reference() is None
    view.set_reference(window)
    view.set_output(np.zeros((WINDOW, 3)), OutputSpec("sequence", (WINDOW, 3), ("x", "y", "pen")))
    assert view.reference() is None              # another kind of output: the old reference goes


def test_the_data_browser_draws_sequence_items(qtbot, opened):
    from PySide6.QtGui import QImage

    window, c = opened(items=None)
    assert c.open_data("strokes", limit=20)
    browser = window.browser
    browser.set_index(4)
    image = browser.preview.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    # A pen drawing: dark strokes on a light page, not the raw [T, 3] numbers.
    assert pixels.mean() > 180 and pixels.min() < 80
    assert browser.strip.count() > 1


def test_a_saved_model_scores_a_series_as_the_score_command_does(qtbot, opened, tmp_path):
    from latentlab.cli import main as cli

    csv = tmp_path / "series.csv"
    write_series(csv, series_values())
    window, c = opened(items=None)
    c.set_data(load_series(csv, WINDOW, STRIDE))
    c.set_model(stream_model())
    folder = tmp_path / "model"
    assert c.save_model(str(folder))
    # Another window, with other data on screen that the model can take but scaled otherwise:
    # the series is scaled as the model's own training series was.
    other = tmp_path / "other.csv"
    write_series(other, series_values(480, spike=False) * 3 + 2)
    window2, c2 = opened(items=None)
    c2.set_data(load_series(other, WINDOW, STRIDE))
    assert c2.open_model(str(folder)) and c2.data.source["path"] == str(other.resolve())
    assert c2.stream.open_series(str(csv))
    qtbot.waitUntil(lambda: len(c2.stream.scores) > 0, timeout=10000)
    out = tmp_path / "scores.csv"
    assert cli(["score", "--model", str(folder), "--data", str(csv), "--out", str(out)]) == 0
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    got = c2.stream.scores
    np.testing.assert_array_equal(got.starts, table[:, 0].astype(int))
    np.testing.assert_allclose(got.errors, table[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.peaks, table[:, 2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.codes, table[:, 3:], rtol=1e-5, atol=1e-5)


def test_every_sequence_family_can_plan_a_run_on_every_sequence_source_the_panel_offers(qtbot, tmp_path,
                                                                                         monkeypatch):
    from latentlab.core.plan import plan_training
    from latentlab.gui.views.training_panel import TrainingPanel

    csv = tmp_path / "s.csv"
    write_series(csv, series_values(300, spike=False))
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    monkeypatch.setattr(panel, "_ask_path", lambda kind: str(csv))
    panel.window_spin.setValue(16)
    panel.stride_spin.setValue(4)
    for source in ("strokes", "waves", "stream", "csv"):
        choose_data(panel, source)
        for family in ("seq-vae", "rvae", "stream-ae"):
            choose_family(panel, family)
            assert panel.problems() == [], (source, family)
            plan = plan_training(panel.settings().with_changes(limit=40))
            assert plan.model_config.family == family and plan.data.kind == "sequence"
            if source in ("stream", "csv"):
                assert plan.model_config.input_shape[0] == 16


def test_the_peak_score_can_be_plotted_and_thresholded_instead(streaming):
    window, c, csv, _ = streaming
    panel = c.stream.panel
    panel.score_combo.setCurrentIndex(panel.score_combo.findData("peak"))
    scores = c.stream.scores
    x, y = panel.curve.getData()
    np.testing.assert_allclose(y, scores.peaks, rtol=1e-6)
    spiked = (scores.starts <= SPIKE_AT) & (SPIKE_AT < scores.starts + WINDOW)
    np.testing.assert_array_equal(c.stream.anomalous(), scores.peaks > c.stream.threshold)
    assert c.stream.anomalous()[spiked].all()   # the spike's windows stand out by their worst step
    assert "peak" in panel.position_label.text()


def test_a_finer_stride_scores_the_series_again_and_keeps_the_head_near_its_step(streaming, qtbot):
    window, c, csv, _ = streaming
    panel = c.stream.panel
    assert panel.stride_spin.value() == STRIDE   # the stride the model's series was cut with
    panel.slider.setValue(20)
    step = int(c.stream.scores.starts[20])
    panel.stride_spin.setValue(1)
    qtbot.waitUntil(lambda: len(c.stream.scores) == 480 - WINDOW + 1, timeout=10000)
    scaled, _ = expected_scores(c, csv)
    expected = score_series(c.model, scaled, 1)
    np.testing.assert_allclose(c.stream.scores.codes, expected.codes, atol=1e-5)
    assert int(c.stream.scores.starts[c.stream.head]) == step
    assert len(c.stream.overlay.path_xy()) == len(expected)
