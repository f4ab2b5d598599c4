"""``latentlab.show``: a person's own model and data, in memory, open in the window and every tool works."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer
from torch import nn

import latentlab
from latentlab.core import latent
from latentlab.core.data import load_dataset
from latentlab.gui import adopt
from latentlab.gui.controller import AppController
from latentlab.gui.tools import export_dialogs
from tests.gui.controller_support import wait_for_codes


class ConvVAE(nn.Module):
    """Not one of LatentLab's families: a conv encoder giving (mu, logvar), a tanh-MLP decoder."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 4, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(4 * 14 * 14, 4))
        self.dec = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 28 * 28))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return h[:, :2], h[:, 2:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


@pytest.fixture
def digits():
    return load_dataset("mnist", limit=120)


@pytest.fixture
def shown(qtbot):
    """Windows opened by ``latentlab.show`` in a test; closed at its end."""
    yield
    for window in adopt.open_windows():
        window.close()
    assert adopt.open_windows() == ()


def _opened(qtbot) -> tuple[object, AppController]:
    window = adopt.open_windows()[-1]
    qtbot.waitExposed(window)
    controller = window.findChild(AppController)
    assert controller is not None
    return window, controller


def _no_dialogs(monkeypatch, tmp_path, name: str) -> str:
    target = str(tmp_path / name)
    monkeypatch.setattr(export_dialogs, "_ask_options", lambda parent, title, options: dict(options))
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *a: target)
    return target


def test_a_vae_of_ones_own_opens_and_every_tool_uses_its_code(qtbot, shown, digits, tmp_path, monkeypatch) -> None:
    vae = ConvVAE().eval()
    assert latentlab.show(model=vae, data=digits.images.numpy(), labels=digits.labels.numpy(), block=False) == 0
    window, controller = _opened(qtbot)
    wait_for_codes(qtbot, controller)
    assert "ConvVAE" in window.windowTitle()
    assert window.plane.point_count() == 120
    # The training panel describes it as a model of its own code, which cannot be continued here.
    panel = window.training_panel
    assert "made outside LatentLab" in panel.model_description() and not panel.resume_check.isEnabled()
    assert panel.family_combo.findData(controller.model.config.family) < 0   # not offered for training

    # The plane shows the model's own means for the data.
    with torch.no_grad():
        mu = vae.encode(digits.images)[0].numpy()
    np.testing.assert_allclose(controller.scene.codes, mu, atol=1e-5)
    assert controller.scene.labels.tolist() == digits.labels.tolist()

    # The probe decodes through the person's decode.
    image = controller.decode_at(0.4, -0.2)
    z = controller.probe.z
    with torch.no_grad():
        expected = vae.decode(torch.from_numpy(z[None].copy()))[0, 0].numpy()
    np.testing.assert_allclose(image, expected, atol=1e-5)

    # Interpolation between two data items decodes the person's path.
    controller.tools.add_item(3)
    controller.tools.add_item(7)
    path, frames = controller.tools.path(), controller.tools.frames()
    np.testing.assert_allclose(path[0], mu[3], atol=1e-5)
    np.testing.assert_allclose(path[-1], mu[7], atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(frames, vae.decode(torch.from_numpy(path)).numpy(), atol=1e-5)

    # Exports work on it: a GIF and an MP4 of the path.
    gif = _no_dialogs(monkeypatch, tmp_path, "path.gif")
    assert controller.export("gif") == gif
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == len(frames)
    mp4 = _no_dialogs(monkeypatch, tmp_path, "path.mp4")
    assert controller.export("mp4") == mp4
    from latentlab.core.video import probe_video

    info = probe_video(mp4)
    assert (info.frames, info.width, info.height) == (len(frames), 112, 112)


def test_save_says_what_save_model_says_without_asking_where(qtbot, shown, digits, tmp_path) -> None:
    latentlab.show(model=ConvVAE().eval(), data=digits, block=False)
    window, controller = _opened(qtbot)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, message: errors.append((title, message))
    window.ask_model_save_path = lambda name: pytest.fail("asked where to save a model it cannot save")
    window.save_action.trigger()
    with pytest.raises(latentlab.LatentLabError) as refused:
        latentlab.save_model(controller.model, tmp_path / "m")
    assert errors == [("Cannot save this model", str(refused.value))]
    assert "save_weights" in errors[0][1]
    # Asked directly (a save before quitting), the controller refuses too and writes nothing.
    assert not controller.save_model(str(tmp_path / "mine"))
    assert len(errors) == 2 and not (tmp_path / "mine").exists()
    # A session names its model's file: it says this model has none, rather than "save it first".
    controller.ask_session_path = lambda save: pytest.fail("asked where to save a session it cannot save")
    assert controller.save_session() is None
    title, message = errors[-1]
    assert title == "Cannot save a session of this model" and "from a file" in message
    assert "Save Model" not in message


def test_a_decoder_alone_opens_with_its_data_placed_by_search(qtbot, shown) -> None:
    digits = load_dataset("mnist", limit=40)   # placing by search costs more than encoding
    vae = ConvVAE().eval()
    latentlab.show(decoder=vae.decode, latent_dim=2, data=digits, block=False)
    window, controller = _opened(qtbot)
    assert not controller.model.config.capabilities.encoder
    wait_for_codes(qtbot, controller, timeout=30000)
    codes = torch.from_numpy(np.array(controller.scene.codes))
    with torch.no_grad():
        placed = (vae.decode(codes) - digits.images).pow(2).flatten(1).mean(1)
        prior = (vae.decode(torch.randn(len(codes), 2, generator=torch.Generator().manual_seed(0)))
                 - digits.images).pow(2).flatten(1).mean(1)
    assert float(placed.mean()) < float(prior.mean())   # placed where the decoder makes them
    image = controller.decode_at(0.0, 0.0)
    with torch.no_grad():
        expected = vae.decode(torch.from_numpy(controller.probe.z[None].copy()))[0, 0].numpy()
    np.testing.assert_allclose(image, expected, atol=1e-5)
    # A traversal of the generator's code works as for any model.
    sweep = latent.traversal(torch.from_numpy(controller.probe.z.copy()), [1], steps=5)[0].numpy()
    assert controller.decode_z(sweep).shape == (5, 28, 28)


def test_inside_a_running_event_loop_show_returns_at_once(qtbot, shown, digits) -> None:
    returned: list[int] = []
    # Called from a timer, i.e. from inside Qt's event loop, as in IPython with %gui qt.
    QTimer.singleShot(0, lambda: returned.append(latentlab.show(model=ConvVAE().eval(), data=digits)))
    qtbot.waitUntil(lambda: returned == [0], timeout=10000)
    window, _controller = _opened(qtbot)
    assert window.isVisible()


def test_in_a_plain_script_show_runs_the_window_until_it_is_closed(qtbot, shown, digits) -> None:
    from PySide6.QtWidgets import QApplication

    from PySide6.QtCore import QThread

    seen = []

    def close_it() -> None:
        window = adopt.open_windows()[-1]
        seen.append((window.isVisible(), QThread.currentThread().loopLevel()))   # the loop runs with the window up
        window.close()

    # Once show's own loop runs (the first timer fires in the window's first paint, the second after).
    QTimer.singleShot(0, lambda: QTimer.singleShot(300, close_it))
    QTimer.singleShot(20000, lambda: QApplication.exit(3))   # a loop that never ended fails, not hangs
    assert latentlab.show(model=ConvVAE().eval(), data=digits) == 0
    assert seen == [(True, 1)] and adopt.open_windows() == ()


class _Shell:
    """Stands for IPython's shell: ``active_eventloop`` as ``%gui`` sets it; a kernel has ``kernel``."""

    def __init__(self, loop, kernel=None) -> None:
        self.active_eventloop, self.kernel, self.enabled = loop, kernel, []

    def enable_gui(self, gui: str) -> None:
        self.enabled.append(gui)


def _ipython(monkeypatch, shell: _Shell) -> None:
    import sys
    import types

    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_with_gui_qt_in_ipython_show_returns_at_once(qtbot, shown, digits, monkeypatch) -> None:
    _ipython(monkeypatch, _Shell("qt6"))
    assert latentlab.show(model=ConvVAE().eval(), data=digits) == 0   # no loop was run: it came back
    window, _controller = _opened(qtbot)
    assert window.isVisible()


def test_a_kernel_without_a_qt_loop_is_given_one_instead_of_being_blocked(qtbot, shown, digits, monkeypatch) -> None:
    shell = _Shell(None, kernel=object())
    _ipython(monkeypatch, shell)
    assert latentlab.show(model=ConvVAE().eval(), data=digits) == 0
    assert shell.enabled == ["qt"] and adopt.open_windows()
