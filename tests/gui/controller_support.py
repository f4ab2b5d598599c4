"""Shared by the window and controller tests: a shown window with its controller, tiny models."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.plan import TrainingSettings
from latentlab.gui.controller import AppController
from latentlab.gui.window.main_window import DISCARD, MainWindow

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
N_ITEMS = 240


def tiny_model(latent_dim: int = 2, family: str = "vae", seed: int = 1):
    """A small untrained model of ``family``; a conditional one (cvae, ssvae) over ten classes."""
    classes = 10 if registry.get(family).capabilities.conditional else 0
    config = ModelConfig(family=family, latent_dim=latent_dim, hidden=(16,), num_classes=classes,
                         label_names=tuple(str(k) for k in range(classes)))
    torch.manual_seed(seed)
    return build_model(config).eval()


def tiny_ssvae(seed: int = 3):
    """A small untrained semi-supervised VAE: a model that classifies, over ten classes."""
    return tiny_model(family="ssvae", seed=seed)


def unexpected_question(text: str) -> str:
    """The default answer in tests: a question nobody expected fails the test (a real box would block)."""
    raise AssertionError(f"unexpected question: {text}")


class Opened:
    """Windows made by a test; :meth:`close_all` closes them, discarding unsaved work.

    Questions about unsaved work fail the test unless the test answers them itself.
    """

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot
        self.made: list[tuple[MainWindow, AppController]] = []

    def __call__(self, model=None, *, items: int | None = N_ITEMS, size=(1100, 700),
                 show: bool = True) -> tuple[MainWindow, AppController]:
        # Not handed to qtbot.addWidget: its clean-up would close the window before this
        # fixture could answer the unsaved-work question.
        window = MainWindow()
        controller = AppController(window, training_threads=1)
        controller.ask_unsaved = unexpected_question
        self.made.append((window, controller))
        if items:
            assert controller.open_data("mnist", limit=items)
        window.resize(*size)
        if show:
            window.show()
            self.qtbot.waitExposed(window)
        if model is not None:
            set_model_and_wait(self.qtbot, controller, model)
        return window, controller

    def close_all(self) -> None:
        for window, controller in self.made:
            controller.ask_unsaved = lambda _text: DISCARD
            window.close()
            assert window.closed and not controller.inference.isRunning()


def set_model_and_wait(qtbot, controller: AppController, model, **kwargs) -> None:
    """Make ``model`` current and wait until its codes are on the plane."""
    controller.set_model(model, **kwargs)
    wait_for_codes(qtbot, controller)


def wait_for_codes(qtbot, controller: AppController, timeout: int = 10000) -> None:
    key = controller.scene.model_key
    qtbot.waitUntil(lambda: controller.scene.codes is not None and controller.scene.model_key == key,
                    timeout=timeout)
    window = controller.window
    qtbot.waitUntil(lambda: window.plane.point_count() == len(controller.scene.codes), timeout=5000)


def show_region(window: MainWindow, half: float = 3.0) -> None:
    window.plane.plotItem.vb.setRange(xRange=(-half, half), yRange=(-half, half), padding=0)
    QApplication.processEvents()


def to_px(window: MainWindow, x: float, y: float) -> QPoint:
    view = window.plane
    return view.mapFromScene(view.plotItem.vb.mapViewToScene(QPointF(x, y)))


def send(window: MainWindow, kind: QEvent.Type, pos: QPoint, button, buttons,
         modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = window.plane.viewport()
    event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(viewport, event)


def drag(window: MainWindow, path: list[QPoint]) -> None:
    send(window, QEvent.Type.MouseMove, path[0], NONE, NONE)
    send(window, QEvent.Type.MouseButtonPress, path[0], LEFT, LEFT)
    for pos in path[1:]:
        send(window, QEvent.Type.MouseMove, pos, NONE, LEFT)
    send(window, QEvent.Type.MouseButtonRelease, path[-1], LEFT, NONE)


def click(window: MainWindow, x: float, y: float, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = to_px(window, x, y)
    send(window, QEvent.Type.MouseMove, pos, NONE, NONE, modifiers)
    send(window, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT, modifiers)
    send(window, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE, modifiers)


def expected_decode(controller: AppController, x: float, y: float) -> np.ndarray:
    """What the model decodes at plane point (x, y), computed without the GUI."""
    scene = controller.scene
    z = scene.plane.lift(torch.tensor([[x, y]], dtype=torch.float32))
    label = torch.tensor([controller.probe.condition]) if scene.conditional else None
    with torch.no_grad():
        return controller.model.decode_image(z, label)[0, 0].numpy()


def decode_code(controller: AppController, z: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return controller.model.decode_image(torch.as_tensor(np.asarray(z), dtype=torch.float32)[None])[0, 0].numpy()


def training_settings(epochs: int = 2, **model) -> TrainingSettings:
    """A small MNIST run; ``model`` overrides settings fields (``latent_dim=3``, ``hidden=[16]``)."""
    chosen = {"family": "vae", "arch": "mlp", "latent_dim": 2, "beta": 1.0, "kl_warmup_epochs": 0,
              "likelihood": "bernoulli", "hidden": [32], **model}
    if chosen["hidden"] is not None:
        chosen["hidden"] = tuple(chosen["hidden"])
    return TrainingSettings(data="mnist", image_size=None, color="auto", epochs=epochs, batch_size=32,
                            lr=1e-3, device="cpu", seed=0, **chosen)
