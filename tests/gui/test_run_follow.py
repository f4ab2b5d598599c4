"""Following a live run folder from the window's side: the polling thread and what it hands over."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.run_folder import RunFolderWriter
from latentlab.core.training import Progress, Snapshot, TrainConfig
from latentlab.gui.run_follow import RunFollowWorker

TINY = ModelConfig(family="ae", arch="mlp", latent_dim=2, hidden=(8,))


def weights(value: float) -> dict[str, torch.Tensor]:
    return {k: torch.full_like(v, value) for k, v in build_model(TINY).state_dict().items()}


@pytest.fixture
def follow(qtbot):
    made: list[RunFollowWorker] = []

    def start(folder: Path, **kw) -> RunFollowWorker:
        worker = RunFollowWorker(str(folder), interval_s=0.02, **kw)
        made.append(worker)
        worker.start()
        return worker

    yield start
    for worker in made:
        assert worker.stop_and_wait()


def take_until(qtbot, worker: RunFollowWorker, condition) -> list:
    """Take updates, as the window would, until one satisfies ``condition``; returns all taken."""
    taken: list = []

    def check() -> bool:
        update = worker.take_update()
        if update is not None:
            taken.append(update)
        return bool(taken and condition(taken[-1]))

    qtbot.waitUntil(check, timeout=5000)
    return taken


def newest(updates: list, field: str):
    """The newest non-empty ``field`` among the updates taken."""
    return next((getattr(u, field) for u in reversed(updates) if getattr(u, field) is not None), None)


def test_new_weights_history_and_the_end_reach_the_window(qtbot, follow, tmp_path: Path):
    writer = RunFolderWriter(tmp_path / "run", TINY, train_config=TrainConfig(epochs=2), min_interval_s=0.0)
    writer.begin()
    worker = follow(tmp_path / "run")
    first = take_until(qtbot, worker, lambda u: u.status.status == "running")
    assert newest(first, "snapshot") is None

    writer.offer(Snapshot(state=weights(1.0), epoch=1, step=3))
    writer.offer(Progress(epoch=1, epochs=2, step=4, steps_per_epoch=4, terms={"loss": 2.0}, images_per_s=1.0,
                          eta_s=1.0, epoch_done=True, entry={"epoch": 1, "train": {"loss": 2.0}, "val": {}}))
    taken = take_until(qtbot, worker, lambda u: u.history)
    assert newest(taken, "history") == [{"epoch": 1, "train": {"loss": 2.0}, "val": {}}]
    snapshot = newest(taken, "snapshot")
    assert all(torch.equal(v, torch.full_like(v, 1.0)) for v in snapshot.model.state_dict().values())

    writer.end("finished", "", weights(2.0), [{"epoch": e, "train": {"loss": 1.0}, "val": {}} for e in (1, 2)])
    taken = take_until(qtbot, worker, lambda u: u.status.status == "finished")
    assert len(newest(taken, "history")) == 2
    snapshot = newest(taken, "snapshot")
    assert all(torch.equal(v, torch.full_like(v, 2.0)) for v in snapshot.model.state_dict().values())


def test_a_silent_run_is_reported_stalled(qtbot, follow, tmp_path: Path):
    RunFolderWriter(tmp_path / "run", TINY, train_config=TrainConfig(epochs=2)).begin()
    worker = follow(tmp_path / "run", stall_after_s=0.05)
    assert take_until(qtbot, worker, lambda u: u.stalled)[-1].status.status == "running"


def test_a_folder_that_is_no_run_is_refused_at_once(tmp_path: Path):
    with pytest.raises(LatentLabError, match="not a LatentLab run folder"):
        RunFollowWorker(str(tmp_path))


def test_a_removed_folder_ends_the_following_with_a_message(qtbot, follow, tmp_path: Path):
    import shutil

    RunFolderWriter(tmp_path / "run", TINY, train_config=TrainConfig(epochs=2)).begin()
    worker = follow(tmp_path / "run", give_up_after_s=0.1)
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        shutil.rmtree(tmp_path / "run")
    assert blocker.args[0].startswith("stopped following") and "not a LatentLab run folder" in blocker.args[0]
    assert worker.wait(5000)  # the thread has ended
