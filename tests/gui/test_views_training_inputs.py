"""The training panel's number fields keep what was typed and say what is wrong with it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from latentlab.gui.views.training_fields import NumberField
from latentlab.gui.views.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    return widget


def _type(qtbot, panel: TrainingPanel, field: NumberField, text: str) -> None:
    """Replace the field's text by typing, then move the focus away (where spin boxes "fix" it)."""
    field.setFocus()
    field.lineEdit().selectAll()
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Delete)
    qtbot.keyClicks(field.lineEdit(), text)
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Return)
    panel.data_combo.setFocus()   # focus out: a QSpinBox would clamp or revert here
    field.interpretText()


@pytest.mark.parametrize(("name", "typed", "value"), [
    ("lr_spin", "1e5", 1e5),             # was shown as 1.0
    ("lr_spin", "3e-7", 3e-7),
    ("epochs_spin", "99999", 99999),      # was cut to 9999
    ("batch_spin", "100000", 100000),
    ("latent_spin", "256", 256),
    ("seed_spin", "4294967296", 4294967296),
])
def test_valid_numbers_are_kept_exactly_as_typed(qtbot, panel, name, typed, value) -> None:
    field = getattr(panel, name)
    _type(qtbot, panel, field, typed)
    assert field.text() == typed
    assert panel.problems() == []
    assert panel.start_button.isEnabled()
    key = {"lr_spin": "lr", "epochs_spin": "epochs", "batch_spin": "batch_size",
           "latent_spin": "latent_dim", "seed_spin": "seed"}[name]
    with qtbot.waitSignal(panel.startRequested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert getattr(blocker.args[0], key) == value


@pytest.mark.parametrize(("name", "typed", "words"), [
    ("latent_spin", "300", ("Latent dim", "256", "300")),     # was cut to 30
    ("latent_spin", "0", ("Latent dim", "at least 1")),
    ("batch_spin", "0", ("Batch size", "at least 1")),       # was reverted to 128
    ("epochs_spin", "0", ("Epochs", "at least 1")),
    ("epochs_spin", "2.5", ("Epochs", "whole number")),
    ("lr_spin", "5e-", ("Learning rate", "not a number")),   # was trained at 5
    ("lr_spin", "0", ("Learning rate", "greater than 0")),
    ("lr_spin", "-1e-3", ("Learning rate", "greater than 0")),
    ("lr_spin", "inf", ("Learning rate", "finite")),
    ("lr_spin", "nan", ("Learning rate", "finite")),
    ("batch_spin", "", ("Batch size", "empty")),
])
def test_unusable_numbers_are_marked_kept_and_block_start(qtbot, panel, name, typed, words) -> None:
    field = getattr(panel, name)
    _type(qtbot, panel, field, typed)
    assert field.text() == typed                     # nothing clamped, rounded or reverted
    assert field.property("invalid") is True         # marked at the field ...
    problems = panel.problems()
    assert len(problems) == 1
    for word in words:
        assert word in problems[0]
    assert problems[0] in field.toolTip()            # ... with the reason in its tooltip
    assert panel.problems_label.isVisibleTo(panel)   # and in the panel, above Start
    assert problems[0] in panel.problems_label.text()
    assert not panel.start_button.isEnabled()
    assert panel.settings() is None                  # no run can be described from it
    emitted = []
    panel.startRequested.connect(emitted.append)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    panel._on_start()   # noqa: SLF001 (even a direct call must not start a run)
    assert emitted == []


def test_fixing_the_field_clears_the_mark_and_enables_start(qtbot, panel) -> None:
    seen = []
    panel.problemsChanged.connect(seen.append)
    _type(qtbot, panel, panel.latent_spin, "300")
    _type(qtbot, panel, panel.epochs_spin, "0")
    assert len(panel.problems()) == 2 and not panel.start_button.isEnabled()
    _type(qtbot, panel, panel.latent_spin, "30")
    _type(qtbot, panel, panel.epochs_spin, "5")
    assert panel.problems() == [] and seen[-1] == []
    assert panel.latent_spin.property("invalid") is False
    assert "⚠" not in panel.latent_spin.toolTip()
    assert not panel.problems_label.isVisibleTo(panel)
    assert panel.start_button.isEnabled()
    assert panel.settings().latent_dim == 30 and panel.settings().epochs == 5


def test_running_keeps_start_disabled_even_without_problems(panel) -> None:
    panel.set_state("running")
    assert panel.problems() == [] and not panel.start_button.isEnabled()
    panel.set_state("idle")
    assert panel.start_button.isEnabled()


def test_a_field_that_does_not_apply_does_not_block_start(qtbot, panel) -> None:
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("beta-vae"))
    _type(qtbot, panel, panel.beta_spin, "-2")
    assert panel.problems() and "β" in panel.problems()[0]
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("vae"))   # β is not used by a VAE
    assert panel.problems() == [] and panel.start_button.isEnabled()
    assert panel.settings().beta == 1.0
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("beta-vae"))
    assert panel.beta_spin.text() == "-2" and panel.problems()   # what was typed for the β-VAE comes back


def test_only_families_that_read_beta_take_it_from_the_field(panel) -> None:
    # The registry says which families read β (the β-VAE and the CVAE's KL weight).
    for family in ("cvae", "beta-vae"):
        panel.family_combo.setCurrentIndex(panel.family_combo.findData(family))
        panel.beta_spin.setValue(3.0)
    for family, beta in (("vae", 1.0), ("cvae", 3.0), ("ae", 1.0), ("beta-vae", 3.0)):
        panel.family_combo.setCurrentIndex(panel.family_combo.findData(family))
        assert panel.settings().beta == beta, family
    assert panel.choices()["model"]["beta"] == 3.0


@pytest.mark.parametrize("family", ["beta-vae", "ssvae", "cvae", "seq-vae", "rvae", "stream-ae"])
def test_a_family_that_reads_beta_starts_from_its_own_default(panel, family) -> None:
    from latentlab.core.models import registry

    fam = registry.get(family)
    if fam.capabilities.output == "sequence":
        panel.apply_choices({"data": {"spec": "waves"}})
    panel.family_combo.setCurrentIndex(panel.family_combo.findData(family))
    assert panel.beta_spin.isEnabled()
    assert panel.beta_spin.value() == fam.default("beta", 1.0)            # as the command line would use
    assert panel.warmup_spin.value() == fam.default("kl_warmup_epochs", 0)
    settings = panel.settings()
    assert settings.beta == fam.default("beta", 1.0) and settings.kl_warmup_epochs == fam.default("kl_warmup_epochs", 0)


def test_a_field_a_family_does_not_use_is_disabled_and_says_so(panel) -> None:
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("ae"))
    for field in (panel.beta_spin, panel.warmup_spin):
        assert not field.isEnabled() and "The Autoencoder family does not use this setting" in field.toolTip()
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("gan"))
    assert not panel.likelihood_combo.isEnabled() and "does not use" in panel.likelihood_combo.toolTip()
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("beta-vae"))
    assert panel.beta_spin.isEnabled() and "does not use" not in panel.beta_spin.toolTip()


def test_fields_that_do_not_apply_give_their_neutral_value(panel) -> None:
    panel.warmup_spin.setValue(5)
    panel.color_combo.setCurrentIndex(panel.color_combo.findData("rgb"))   # a folder-only choice
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("ae"))   # an AE has no KL term
    settings = panel.settings()
    assert (settings.kl_warmup_epochs, settings.color, settings.image_size) == (0, "auto", None)
    panel.family_combo.setCurrentIndex(panel.family_combo.findData("vae"))
    assert panel.settings().kl_warmup_epochs == 5
    assert panel.choices()["data"]["color"] == "rgb"   # the choice itself is kept


def test_arrows_step_inside_the_range_and_never_past_it(panel) -> None:
    panel.latent_spin.setValue(255)
    panel.latent_spin.stepBy(5)
    assert panel.latent_spin.value() == 256
    assert not panel.latent_spin.stepEnabled() & NumberField.StepEnabledFlag.StepUpEnabled
    panel.batch_spin.setValue(2)
    panel.batch_spin.stepBy(-10)
    assert panel.batch_spin.value() == 1
    panel.lr_spin.setValue(2e-3)
    panel.lr_spin.stepBy(1)
    assert panel.lr_spin.text() == "5e-3"


def test_a_half_typed_value_is_not_a_number_even_on_enter(qtbot, panel) -> None:
    _type(qtbot, panel, panel.lr_spin, "1e")
    assert panel.lr_spin.text() == "1e" and panel.lr_spin.value() is None
    assert panel.settings() is None
    assert "lr" not in panel.choices()["train"]   # a remembered choice is always usable
