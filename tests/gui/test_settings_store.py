"""The settings store can be pointed at a scratch folder (benchmarks, smoke checks)."""

from __future__ import annotations

from pathlib import Path

from latentlab.gui import settings


def test_settings_dir_env_redirects_the_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(settings.SETTINGS_DIR_ENV, str(tmp_path))
    model = tmp_path / "model"
    model.mkdir()
    settings.add_recent_model(str(model))
    settings.app_settings().sync()
    ini = tmp_path / "LatentLab.ini"
    assert ini.is_file() and str(model) in ini.read_text()
    assert settings.recent_models() == [str(model)]
