"""Live run folders: the writer's files, their pacing, and a follower polling them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from latentlab.core import run_folder
from latentlab.core.checkpoint import load_model
from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.run_folder import RunFolderWriter, RunFollower, read_snapshot, read_status
from latentlab.core.training import Progress, Snapshot, TrainConfig, train

TINY = ModelConfig(family="ae", arch="mlp", latent_dim=2, hidden=(16,))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def weights(value: float) -> dict[str, torch.Tensor]:
    model = build_model(TINY)
    return {k: torch.full_like(v, value) for k, v in model.state_dict().items()}


def progress(epoch: int, step: int, done: bool = False) -> Progress:
    entry = {"epoch": epoch, "train": {"loss": 10.0 - epoch}, "val": {}} if done else None
    return Progress(epoch=epoch, epochs=3, step=step, steps_per_epoch=5, terms={"loss": 1.0}, images_per_s=1.0,
                    eta_s=0.0, epoch_done=done, entry=entry)


@pytest.fixture
def live(tmp_path: Path) -> tuple[RunFolderWriter, Clock, Clock, Path]:
    writer_clock, reader_clock = Clock(), Clock()
    folder = tmp_path / "run"
    writer = RunFolderWriter(folder, TINY, train_config=TrainConfig(epochs=3), min_interval_s=2.0,
                             heartbeat_s=5.0, clock=writer_clock)
    writer.begin()
    return writer, writer_clock, reader_clock, folder


def test_a_new_run_is_running_without_weights(live):
    writer, _, reader_clock, folder = live
    status = read_status(folder)
    assert (status.status, status.family, status.epoch, status.epochs, status.snapshot) == ("running", "ae", 0, 3, 0)
    assert read_snapshot(folder) is None
    update = RunFollower(folder, clock=reader_clock).poll()
    assert update.snapshot is None and update.history is None and not update.stalled


def test_snapshots_are_written_at_most_every_interval_and_followed(live):
    writer, clock, reader_clock, folder = live
    follower = RunFollower(folder, clock=reader_clock)
    writer.offer(Snapshot(state=weights(1.0), epoch=1, step=2))
    first = follower.poll()
    assert first.snapshot is not None and first.changed
    assert all(torch.equal(v, torch.full_like(v, 1.0)) for v in first.snapshot.model.state_dict().values())
    clock.t += 1.0  # within the interval: held back
    writer.offer(Snapshot(state=weights(2.0), epoch=1, step=4))
    assert read_status(folder).snapshot == 1 and follower.poll().snapshot is None
    clock.t += 1.5  # the interval has passed: the epoch's end brings the held weights and the history
    writer.offer(progress(1, 5, done=True))
    update = follower.poll()
    assert update.snapshot is not None and update.history == [{"epoch": 1, "train": {"loss": 9.0}, "val": {}}]
    assert all(torch.equal(v, torch.full_like(v, 2.0)) for v in update.snapshot.model.state_dict().values())
    status = read_status(folder)
    assert (status.epoch, status.snapshot, status.snapshot_step) == (1, 2, 4)
    assert follower.poll().snapshot is None  # nothing new


def test_the_end_writes_the_final_model_and_status(live):
    writer, clock, _, folder = live
    writer.offer(Snapshot(state=weights(1.0), epoch=1, step=5))
    history = [{"epoch": e, "train": {"loss": 1.0 / e}, "val": {}} for e in (1, 2, 3)]
    writer.offer(Snapshot(state=weights(3.0), epoch=3, step=15))
    writer.end("finished", "", weights(3.0), history)
    status = read_status(folder)
    assert (status.status, status.epoch, status.step) == ("finished", 3, 15)
    loaded = load_model(folder)  # the run folder is a model folder too
    assert loaded.meta["history"] == history
    assert all(torch.equal(v, torch.full_like(v, 3.0)) for v in loaded.model.state_dict().values())


def test_a_silent_run_is_stalled_and_a_speaking_one_is_not(live):
    writer, clock, reader_clock, folder = live
    follower = RunFollower(folder, stall_after_s=30.0, clock=reader_clock)
    reader_clock.t += 31.0
    assert follower.poll().stalled
    clock.t += 6.0  # past the heartbeat: the writer speaks even without news
    writer.offer(progress(1, 1))
    assert not follower.poll().stalled
    assert read_status(folder).stalled(now=clock.t + run_folder.STALL_AFTER_S + 1)
    assert not read_status(folder).stalled(now=clock.t)


def test_a_failed_run_says_so(live):
    writer, _, reader_clock, folder = live
    writer.fail("out of memory")
    update = RunFollower(folder, clock=reader_clock).poll()
    assert (update.status.status, update.status.message) == ("failed", "out of memory")
    reader_clock.t += 1e6
    assert not RunFollower(folder, clock=reader_clock).poll().stalled  # over, not stalled


def test_a_write_that_fails_is_one_error_and_the_failure_is_still_reported(live, monkeypatch):
    writer, _, _, folder = live
    real_replace = run_folder.os.replace

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_folder.os, "replace", full_disk)
    with pytest.raises(LatentLabError, match="No space left"):
        writer.offer(Snapshot(state=weights(1.0), epoch=1, step=3))
    writer.fail("No space left on device")  # the folder cannot take the status either: not a second error
    monkeypatch.setattr(run_folder.os, "replace", real_replace)
    assert read_status(folder).status == "running" and read_snapshot(folder) is None
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_foreign_folder_is_refused_and_a_damaged_status_is_one_error(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(LatentLabError, match="not a LatentLab run folder"):
        RunFolderWriter(photos, TINY)
    assert (photos / "holiday.jpg").read_bytes() == b"precious"
    with pytest.raises(LatentLabError, match="not a LatentLab run folder"):
        read_status(photos)
    run = tmp_path / "run"
    run.mkdir()
    (run / run_folder.STATUS_NAME).write_text(json.dumps({"kind": "latentlab-run", "format_version": 1,
                                                          "status": "exploded"}))
    with pytest.raises(LatentLabError, match="unknown run status 'exploded'"):
        read_status(run)
    (run / run_folder.STATUS_NAME).write_text("[" * 10_000)
    with pytest.raises(LatentLabError):
        read_status(run)


def test_a_training_run_feeds_its_folder(tmp_path: Path):
    data = load_dataset("mnist", limit=200)
    config = TrainConfig(epochs=2, batch_size=50, device="cpu", threads=1)
    writer = RunFolderWriter(tmp_path / "run", TINY, train_config=config, min_interval_s=0.0)
    writer.begin()
    gen = train(TINY, data, config)
    while True:
        try:
            writer.offer(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    writer.end(result.status, result.message, result.model.state_dict(), result.history)
    loaded = load_model(tmp_path / "run")
    assert loaded.meta["history"] == json.loads(json.dumps(result.history))
    for name, value in result.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], value)
    assert read_status(tmp_path / "run").status == "finished"


def test_a_folder_another_run_is_writing_to_is_refused_and_a_new_run_is_followed(live):
    writer, clock, reader_clock, folder = live
    follower = RunFollower(folder, clock=reader_clock)
    writer.offer(Snapshot(state=weights(1.0), epoch=1, step=2))
    assert follower.poll().snapshot is not None
    clock.t = time.time()  # the first run spoke just now
    writer.offer(progress(1, 3))
    clock.t += 10.0
    writer.offer(progress(1, 4))
    with pytest.raises(LatentLabError, match="still writing to it"):
        RunFolderWriter(folder, TINY)
    writer.fail("stopped")  # once it has ended, the folder can take a new run
    second = RunFolderWriter(folder, TINY, train_config=TrainConfig(epochs=1), clock=lambda: clock.t + 100)
    second.begin()
    second.offer(Snapshot(state=weights(5.0), epoch=1, step=1))
    update = follower.poll()
    assert update.snapshot is not None  # numbered from 1 again, still seen as new
    assert all(torch.equal(v, torch.full_like(v, 5.0)) for v in update.snapshot.model.state_dict().values())


def test_a_status_unreadable_for_long_ends_the_following(live):
    writer, _, reader_clock, folder = live
    follower = RunFollower(folder, give_up_after_s=10.0, clock=reader_clock)
    (folder / run_folder.STATUS_NAME).write_text("{half a fi")  # caught mid-sync
    assert follower.poll().status.status == "running"  # the last good status, for now
    reader_clock.t += 5.0
    assert follower.poll().status.status == "running"
    writer.offer(progress(1, 2))  # readable again: the count starts over
    reader_clock.t += 1.0
    follower.poll()
    (folder / run_folder.STATUS_NAME).unlink()
    follower.poll()
    reader_clock.t += 11.0
    with pytest.raises(LatentLabError, match="stopped following"):
        follower.poll()
