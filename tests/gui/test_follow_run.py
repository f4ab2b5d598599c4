"""File ▸ Follow Run in the window: a run another process trains, shown live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentlab.core.models import ModelConfig, build_model
from latentlab.core.run_folder import RunFolderWriter
from latentlab.core.training import Progress, Snapshot, TrainConfig

CONFIG = ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(16,))


def weights(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in build_model(CONFIG).state_dict().items()}


def epoch_done(epoch: int, loss: float) -> Progress:
    return Progress(epoch=epoch, epochs=3, step=epoch * 4, steps_per_epoch=4, terms={"loss": loss},
                    images_per_s=1.0, eta_s=1.0, epoch_done=True,
                    entry={"epoch": epoch, "train": {"loss": loss}, "val": {"loss": loss}})


def test_a_followed_run_opens_updates_and_ends_in_the_window(qtbot, opened, tmp_path: Path):
    window, c = opened(items=120)
    folder = tmp_path / "run"
    writer = RunFolderWriter(folder, CONFIG, train_config=TrainConfig(epochs=3), min_interval_s=0.0)
    writer.begin()
    writer.offer(Snapshot(state=weights(1), epoch=1, step=4))
    writer.offer(epoch_done(1, 5.0))
    assert c.following.follow(str(folder), interval_s=0.02)
    # The first snapshot opens as the model on screen, with the history so far.
    qtbot.waitUntil(lambda: c.model is not None and len(c.run.history) == 1, timeout=10000)
    assert c.model.config == CONFIG and not c.run.unsaved
    first = {k: v.clone() for k, v in c.model.state_dict().items()}
    assert all(torch.equal(first[k], v) for k, v in weights(1).items())
    assert "training, epoch 1 of 3" in c.following.last_status
    # Newer weights replace the model's; the loss curves grow.
    writer.offer(Snapshot(state=weights(2), epoch=2, step=8))
    writer.offer(epoch_done(2, 4.0))
    qtbot.waitUntil(lambda: len(c.run.history) == 2, timeout=10000)
    qtbot.waitUntil(lambda: all(torch.equal(c.model.state_dict()[k], v) for k, v in weights(2).items()),
                    timeout=10000)
    x, y = window.plane.probe_position()
    with torch.no_grad():
        expected = c.model.decode_image(torch.tensor([[x, y]], dtype=torch.float32))[0, 0].numpy()
    qtbot.waitUntil(lambda: np.allclose(window.decoded.current_image(), expected, atol=1e-5), timeout=5000)
    # The end of the run is said as such.
    writer.end("finished", "", weights(3), [epoch_done(e, 3.0).entry for e in (1, 2, 3)])
    qtbot.waitUntil(lambda: "finished" in c.following.last_status, timeout=10000)
    assert len(c.run.history) == 3


def test_a_folder_that_is_no_run_is_refused_with_one_message(qtbot, opened, tmp_path: Path):
    window, c = opened(items=60)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, text: errors.append((title, text))
    assert not c.follow_run(str(tmp_path))
    assert errors and "not a LatentLab run folder" in errors[0][1]
    assert c.following.folder is None


def test_opening_another_model_stops_following(qtbot, opened, tmp_path: Path):
    window, c = opened(items=60)
    folder = tmp_path / "run"
    writer = RunFolderWriter(folder, CONFIG, train_config=TrainConfig(epochs=3), min_interval_s=0.0)
    writer.begin()
    assert c.follow_run(str(folder))
    assert c.following.folder == str(folder)
    from latentlab.core.checkpoint import save_model

    saved = tmp_path / "other"
    save_model(saved, build_model(CONFIG))
    assert c.open_model(str(saved))
    assert c.following.folder is None
