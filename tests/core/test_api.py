"""The Python API: lazy names, train with progress and cancel, data from arrays, show()'s checks."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import latentlab
from latentlab.core.errors import LatentLabError
from tests.core.test_adapters import Tiny, forget_external_families

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    forget_external_families()


def test_import_latentlab_loads_neither_torch_nor_qt() -> None:
    code = ("import sys, latentlab\n"
            "heavy = [m for m in ('torch', 'PySide6', 'numpy') if m in sys.modules]\n"
            "print(','.join(heavy) or 'light')\n"
            "latentlab.load_dataset\n"
            "print('torch' in sys.modules, 'PySide6' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["light", "True", "False"]


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        latentlab.nope  # noqa: B018


def _images(n: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n, 8, 8)) * 255).astype(np.uint8)


def test_train_on_arrays_with_labels_reports_progress_and_saves(tmp_path: Path) -> None:
    labels = np.arange(120) % 3
    reports = []
    trained = latentlab.train(_images(), labels=labels, family="cvae", epochs=2, hidden=(16,), threads=1,
                              batch_size=40, progress=reports.append)
    model, history = trained
    assert trained.status == "finished" and [h["epoch"] for h in history] == [1, 2]
    assert model.config.num_classes == 3 and trained.data.shape == (1, 8, 8)
    assert reports and reports[-1].epoch == 2 and reports[-1].epoch_done
    saved = latentlab.save_model(model, tmp_path / "m")
    again = latentlab.load_model(saved)
    assert [h["epoch"] for h in again.meta["history"]] == [1, 2]
    more = latentlab.train(_images(), labels=labels, family="cvae", epochs=1, hidden=(16,), threads=1,
                           model=again, history=again.meta["history"])
    assert [h["epoch"] for h in more.history] == [1, 2, 3]


def test_a_progress_callback_returning_false_or_a_control_cancels() -> None:
    result = latentlab.train(_images(), epochs=40, hidden=(16,), threads=1, batch_size=10,
                             progress=lambda p: False)
    assert result.status == "cancelled" and len(result.history) < 40
    control = latentlab.TrainControl()
    timer = threading.Timer(0.0, control.cancel)
    timer.start()
    timer.join()
    result = latentlab.train(_images(), epochs=40, hidden=(16,), threads=1, control=control)
    assert result.status == "cancelled" and result.history == []


@pytest.mark.parametrize(("data", "labels", "fragment"), [
    (np.zeros((4, 2, 8, 8), np.uint8), None, "C = 1 or 3"),
    (np.full((4, 8, 8), 2.0, np.float32), None, "values in [0, 1]"),
    (np.zeros((4, 8, 8), np.int32), None, "uint8 or floats"),
    (np.zeros((4, 8, 8), np.uint8), [0, 1], "2 labels for 4 items"),
    (np.zeros((4, 8, 8), np.uint8), [0, 1, -1, 0], "no negative"),
    (np.zeros((4, 8, 8), np.uint8), [0.5, 1, 1, 0], "whole numbers"),
    ([1, 2, 3], None, "got list"),
])
def test_bad_data_is_one_clear_error(data, labels, fragment) -> None:
    with pytest.raises(LatentLabError) as err:
        latentlab.as_dataset(data, labels)
    assert fragment in str(err.value)


def test_unknown_training_settings_are_named() -> None:
    with pytest.raises(LatentLabError, match="unknown training setting"):
        latentlab.train(_images(), epochs=1, colour="red")


def test_show_checks_its_arguments_before_any_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes importing the GUI fail: any check below that reached it would say so.
    for name in ("PySide6", "latentlab.gui.adopt"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(LatentLabError, match="no decode"):
        latentlab.show(model=torch.nn.Linear(2, 2), data=_images())
    tiny = Tiny()
    with pytest.raises(LatentLabError, match="expects items of shape 1×4×4"):
        latentlab.show(model=tiny, latent_dim=2, data=_images())
    with pytest.raises(LatentLabError, match="3 labels for 120 items"):
        latentlab.show(model=tiny, latent_dim=2, data=_images(), labels=[0, 1, 2])
    with pytest.raises(LatentLabError, match="needs a model, data, or both"):
        latentlab.show()
    with pytest.raises(LatentLabError, match="labels were given without data"):
        latentlab.show(model=tiny, latent_dim=2, labels=[0])
    with pytest.raises(LatentLabError, match="window cannot be opened here"):
        latentlab.show(model=tiny, latent_dim=2, data=np.zeros((3, 4, 4), np.uint8))


def test_show_hands_the_checked_model_and_data_to_the_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls = []
    fake = types.ModuleType("latentlab.gui.adopt")
    fake.show_window = lambda model, data, *, title, block: calls.append((model, data, title, block)) or 0
    monkeypatch.setitem(sys.modules, "latentlab.gui.adopt", fake)
    assert latentlab.show(model=Tiny(), latent_dim=2, data=np.zeros((3, 4, 4), np.uint8),
                          labels=[0, 1, 1], title="mine", block=False) == 0
    (model, data, title, block), = calls
    assert model.config.family == "external" and data.labels.tolist() == [0, 1, 1]
    assert data.class_names == ("0", "1") and (title, block) == ("mine", False)
