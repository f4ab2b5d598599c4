"""The settings store: a scratch folder for benchmarks, and the training panel's own choices."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from latentlab.core.checkpoint import save_model
from latentlab.core.data import load_dataset
from latentlab.gui import settings
from tests.gui.controller_support import tiny_model, wait_for_codes


def test_settings_dir_env_redirects_the_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(settings.SETTINGS_DIR_ENV, str(tmp_path))
    model = tmp_path / "model"
    model.mkdir()
    settings.add_recent_model(str(model))
    settings.app_settings().sync()
    ini = tmp_path / "LatentLab.ini"
    assert ini.is_file() and str(model) in ini.read_text()
    assert settings.recent_models() == [str(model)]


def test_training_choices_round_trip_without_the_resume_flag(tmp_path: Path) -> None:
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert settings.training_choices(store) == {}
    choices = {"model": {"family": "beta-vae", "latent_dim": 5}, "train": {"epochs": 7}, "resume": True}
    settings.save_training_choices(choices, store)
    assert settings.training_choices(store) == {"model": {"family": "beta-vae", "latent_dim": 5},
                                                "train": {"epochs": 7}}


def test_choices_remembered_by_an_earlier_version_are_read(tmp_path: Path) -> None:
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store.setValue("training/lastSettings", '{"train": {"epochs": 3}}')
    assert settings.training_choices(store) == {"train": {"epochs": 3}}


def test_relaunch_keeps_the_choices_not_the_loaded_models_settings(qtbot, opened, tmp_path):
    data = load_dataset("mnist", limit=240)
    folder = tmp_path / "bundled-like"
    save_model(folder, tiny_model(latent_dim=2), data_info={"source": data.source},
               history=[{"epoch": 1, "train": {"loss": 1.0}, "val": {"loss": 1.0}}])
    window, _ = opened()
    panel = window.training_panel
    panel.apply_settings({"data": {"spec": "shapes"}, "model": {"family": "beta-vae", "latent_dim": 5, "beta": 6.0},
                          "train": {"epochs": 7}})
    chosen = panel.settings()
    window.close()
    # Next launch: the window restores the choices, then a model of other settings is loaded.
    again, c = opened(items=None)
    assert c.open_model(str(folder))
    wait_for_codes(qtbot, c)
    after = again.training_panel.settings()
    assert after.data == "mnist"   # the data choice follows the opened model's data; the rest is kept
    assert (after.family, after.latent_dim, after.beta) == ("beta-vae", 5, 6.0)
    assert after.epochs == 7
    assert after == chosen.with_changes(data="mnist")
