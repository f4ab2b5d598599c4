"""The training panel: the dict it emits, its states, progress text, data choice, settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QWidget

from latentlab.core.training_settings import TrainingSettings
from latentlab.gui.views.formatting import format_compact, format_duration, format_learning_rate, format_progress
from latentlab.gui.views.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _choose(combo: QComboBox, key: str) -> None:
    """Pick an item the way a user does: activated fires, not only currentIndexChanged."""
    index = combo.findData(key)
    assert index >= 0, key
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _set_non_defaults(panel: TrainingPanel) -> None:
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("beta-vae"))
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("conv"))
    panel.likelihood_combo.setCurrentIndex(panel.likelihood_combo.findData("gaussian"))
    panel.latent_spin.setValue(8)
    panel.beta_spin.setValue(2.5)
    panel.warmup_spin.setValue(5)
    panel.epochs_spin.setValue(3)
    panel.batch_spin.setValue(64)
    panel.lr_spin.setValue(5e-4)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.precision_combo.setCurrentIndex(panel.precision_combo.findData("fp32"))
    panel.seed_spin.setValue(7)


def test_start_emits_the_values_set_in_the_widgets(panel, qtbot) -> None:
    _set_non_defaults(panel)
    with qtbot.waitSignal(panel.startRequested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == TrainingSettings(
        data="mnist", image_size=None, color="auto",
        family="beta-vae", arch="conv", latent_dim=8, beta=2.5, kl_warmup_epochs=5, likelihood="gaussian",
        epochs=3, batch_size=64, lr=5e-4, device="cpu", seed=7, continue_training=False, precision="fp32")


def test_learning_rate_accepts_scientific_notation_and_steps_1_2_5(panel, qtbot) -> None:
    panel.lr_spin.lineEdit().selectAll()
    qtbot.keyClicks(panel.lr_spin.lineEdit(), "3e-4")
    panel.lr_spin.interpretText()
    assert panel.lr_spin.value() == pytest.approx(3e-4)
    panel.lr_spin.setValue(1e-3)
    seen = []
    for _ in range(3):
        panel.lr_spin.stepBy(1)
        seen.append(panel.lr_spin.value())
    assert seen == pytest.approx([2e-3, 5e-3, 1e-2])
    panel.lr_spin.setValue(1e-3)
    panel.lr_spin.stepBy(-1)
    assert panel.lr_spin.value() == pytest.approx(5e-4)
    assert panel.lr_spin.text() == "5e-4"


@pytest.mark.parametrize(
    ("state", "start", "pause", "stop", "pause_text", "form"),
    [
        ("idle", True, False, False, "Pause", True),
        ("running", False, True, True, "Pause", False),
        ("paused", False, True, True, "Resume", False),
        ("stopping", False, False, False, "Pause", False),
    ],
)
def test_states_enable_the_right_controls(panel, state, start, pause, stop, pause_text, form) -> None:
    panel.set_state("running")   # leave idle first so "idle" must re-enable things
    panel.set_state(state)
    assert panel.start_button.isEnabled() is start
    assert panel.pause_button.isEnabled() is pause
    assert panel.stop_button.isEnabled() is stop
    assert panel.pause_button.text() == pause_text
    assert panel.epochs_spin.isEnabled() is form
    assert panel.data_combo.isEnabled() is form


def test_back_to_idle_keeps_beta_disabled_for_plain_vae(panel) -> None:
    panel.set_state("running")
    panel.set_state("idle")
    assert panel.family_combo.currentData() == "vae"
    assert not panel.beta_spin.isEnabled()
    assert panel.latent_spin.isEnabled()


def test_unknown_state_is_refused(panel) -> None:
    with pytest.raises(ValueError, match="training state"):
        panel.set_state("exploded")


def test_pause_button_asks_to_pause_or_resume(panel, qtbot) -> None:
    panel.set_state("running")
    with qtbot.waitSignal(panel.pauseRequested, timeout=1000):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    panel.set_state("paused")
    with qtbot.waitSignal(panel.resumeRequested, timeout=1000):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.stopRequested, timeout=1000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)


def test_progress_text_shows_epoch_percent_eta_and_speed(panel) -> None:
    panel.set_state("running")
    panel.set_progress(3, 20, 0.41, 12.0, 18234.0)
    text = panel.progress_text()
    for part in ("Epoch 3/20", "41%", "ETA 0:12", "18.2k img/s"):
        assert part in text
    assert panel.progress.value() == 410
    panel.set_progress(1, 20, 0.0, float("inf"), 0.0)
    assert "ETA —" in panel.progress_text()
    assert "img/s" not in panel.progress_text()
    assert "float" not in panel.progress_text()   # float32 goes without saying


def test_progress_text_names_a_lower_precision_while_training(panel) -> None:
    panel.set_state("running")
    panel.set_progress(3, 20, 0.41, 12.0, 7100.0, "bf16")
    assert panel.progress_text().endswith("7.1k img/s · bfloat16")
    panel.set_state("paused")   # like the speed, shown only while the steps run
    assert "bfloat16" not in panel.progress_text()


def test_status_line_shows_text(panel) -> None:
    panel.set_status("Epoch 2 done: loss 143.2")
    assert panel.status.text() == "Epoch 2 done: loss 143.2"


def test_picking_a_folder_sets_the_spec_and_cancel_keeps_it(panel, monkeypatch, tmp_path) -> None:
    asked = []
    monkeypatch.setattr(panel, "_ask_path", lambda kind: asked.append(kind) or str(tmp_path))
    _choose(panel.data_combo, "folder")
    assert asked == ["folder"]
    data = panel.settings()
    assert data.data == str(tmp_path)
    assert data.image_size == panel.image_size_spin.value()
    assert panel.path_label.text() == str(tmp_path)
    assert panel.image_size_spin.isVisibleTo(panel) and panel.color_combo.isVisibleTo(panel)

    monkeypatch.setattr(panel, "_ask_path", lambda kind: None)
    _choose(panel.data_combo, "idx")
    assert panel.data_combo.currentData() == "folder"
    assert panel.settings().data == str(tmp_path)


def test_cancel_from_a_builtin_choice_goes_back_to_it(panel, monkeypatch) -> None:
    _choose(panel.data_combo, "shapes")
    monkeypatch.setattr(panel, "_ask_path", lambda kind: None)
    _choose(panel.data_combo, "npz")
    assert panel.settings().data == "shapes"
    assert not panel.image_size_spin.isVisibleTo(panel)
    assert not panel.path_label.isVisibleTo(panel)


def test_folder_only_fields_are_hidden_for_other_data(panel) -> None:
    assert panel.settings().image_size is None
    assert not panel.image_size_spin.isVisibleTo(panel)
    assert not panel.color_combo.isVisibleTo(panel)


def test_beta_and_warmup_follow_the_family(panel) -> None:
    expected = {"ae": (False, False), "vae": (False, True), "beta-vae": (True, True),
                "cvae": (True, True), "pca": (False, False)}   # a CVAE weights its KL by β too
    for family, (beta, warmup) in expected.items():
        panel.family_combo.setCurrentIndex(panel.family_combo.findData(family))
        assert (panel.beta_spin.isEnabled(), panel.warmup_spin.isEnabled()) == (beta, warmup), family


def test_settings_round_trip(qtbot, panel, tmp_path) -> None:
    panel.set_devices(["cuda:0"])
    _set_non_defaults(panel)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cuda"))
    panel._ask_path = lambda kind: str(tmp_path)   # noqa: SLF001 (the documented test hook)
    _choose(panel.data_combo, "folder")
    panel.image_size_spin.setValue(48)
    panel.color_combo.setCurrentIndex(panel.color_combo.findData("rgb"))
    saved, chosen = panel.settings(), panel.choices()
    assert saved.device == "cuda" and saved.image_size == 48 and saved.color == "rgb"
    assert saved.precision == "fp32"

    other = TrainingPanel()
    qtbot.addWidget(other)
    other.set_devices(["cuda"])
    assert other.settings() != saved
    other.apply_choices(chosen)   # what the app remembers between launches
    assert other.settings() == saved and other.choices() == chosen
    assert other.beta_spin.isEnabled()


def test_invalid_settings_are_ignored(panel, tmp_path) -> None:
    before = panel.settings()
    panel.apply_settings({
        "data": {"spec": str(tmp_path / "gone"), "image_size": "big", "color": "sepia"},
        "model": {"family": "wgan", "arch": 3, "latent_dim": 0, "beta": float("nan"),
                  "kl_warmup_epochs": -1, "likelihood": None},
        "train": {"epochs": True, "batch_size": 1.5, "lr": -1.0, "device": "cuda", "seed": -3, "precision": "fp8"},
        "extra": {"anything": 1},
    })
    assert panel.settings() == before
    panel.apply_settings({"model": "not a dict", "train": None})
    panel.apply_settings("not a dict")   # type: ignore[arg-type]
    assert panel.settings() == before


def test_partial_settings_change_only_what_they_name(panel) -> None:
    panel.apply_settings({"train": {"epochs": 5}, "data": {"spec": "moons"}})
    s = panel.settings()
    assert s.epochs == 5 and s.data == "moons"
    assert s.batch_size == 128 and s.latent_dim == 2
    assert s.precision == "auto"   # the form's default is the command line's


def test_devices_offered_only_when_present(panel) -> None:
    def keys() -> list[str]:
        return [panel.device_combo.itemData(i) for i in range(panel.device_combo.count())]

    assert keys() == ["auto", "cpu"]
    panel.set_devices(["cpu", "mps"])
    assert keys() == ["auto", "cpu", "mps"]
    panel.device_combo.setCurrentIndex(2)
    panel.set_devices(["cuda:1"])
    assert keys() == ["auto", "cpu", "cuda"]
    assert panel.settings().device == "auto"


def test_every_field_has_a_tooltip(panel) -> None:
    forms = panel.findChildren(QFormLayout)
    assert len(forms) == 3
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QWidget) and widget is not panel.path_label:
                assert widget.toolTip(), f"no tooltip on {type(widget).__name__} in row {row}"


def test_formatting_helpers() -> None:
    assert format_duration(3723) == "1:02:03"
    assert format_duration(59.6) == "1:00"
    assert format_duration(-1) == "—"
    assert format_compact(999_950) == "1M"
    assert format_compact(950) == "950"
    assert format_learning_rate(2.5e-4) == "2.5e-4"
    assert format_learning_rate(0.05) == "0.05"
    # 0.29 * 100 is 28.999… in floating point; the bar must still say 29%.
    assert "29%" in format_progress(1, 2, 0.29, 5, 10)
    assert "100%" in format_progress(2, 2, 1.5, 0, 10)


def test_gui_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import latentlab.gui.views.training_panel, latentlab.gui.views.loss_plot\n"
        "import latentlab.gui.views.dialogs, latentlab.gui.views.formatting\n"
        "heavy = [m for m in ('torch', 'latentlab.core.training') if m in sys.modules]\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_family_list_comes_from_the_registry_with_descriptions(qtbot) -> None:
    from latentlab.core.adapters import is_external_family
    from latentlab.core.models import registry
    from tests.toy_families import NAME, toy_family_registered

    with toy_family_registered() as toy:
        panel = TrainingPanel()
        qtbot.addWidget(panel)
        combo = panel.family_combo
        keys = [combo.itemData(i) for i in range(combo.count())]
        # Wrapped models' families (a person's own code) are shown, never offered for training.
        assert keys == [n for n in registry.names() if not is_external_family(n)] and NAME in keys
        row = keys.index(NAME)
        assert combo.itemText(row) == toy.title
        assert combo.itemData(row, Qt.ItemDataRole.ToolTipRole) == toy.description
        combo.setCurrentIndex(row)
        # Only the settings the family reads stay editable.
        assert panel.beta_spin.isEnabled() == ("beta" in toy.settings)
        assert panel.arch_combo.isEnabled() == ("arch" in toy.settings)
        assert combo.toolTip() == toy.description
        combo.setCurrentIndex(keys.index("beta-vae"))
        assert panel.beta_spin.isEnabled()
        combo.setCurrentIndex(keys.index("pca"))
        assert not panel.beta_spin.isEnabled() and not panel.arch_combo.isEnabled()
