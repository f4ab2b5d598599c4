"""Checkpoints and resuming: an interrupted run ends bit for bit as an uninterrupted one."""

from __future__ import annotations

import json

import pytest
import torch

from latentlab.core import autosave
from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig
from latentlab.core.training import RunState, Snapshot, TrainConfig, train
from tests.toy_families import NAME, toy_family_registered

VAE = ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(32,), kl_warmup_epochs=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist", limit=600)


def config(**changes) -> TrainConfig:
    base = dict(epochs=4, batch_size=64, lr=3e-3, seed=3, device="cpu", threads=1)
    base.update(changes)
    return TrainConfig(**base)


def drain(gen, stop_after_state: int | None = None):
    """Run a training generator: (RunStates yielded, TrainResult or None when stopped early)."""
    states = []
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return states, stop.value
        if isinstance(item, RunState):
            states.append(item)
            if stop_after_state is not None and item.epoch == stop_after_state:
                gen.close()  # as abrupt as a crash: nothing after this point runs
                return states, None


def losses(history):
    return [(h["epoch"], h["train"], h["val"], {k: v for k, v in h.items()
                                                if k not in ("train", "val", "images_per_s", "seconds")})
            for h in history]


def assert_same_run(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert losses(a.history) == losses(b.history)


@pytest.mark.parametrize("family", ["vae", NAME])
def test_two_epochs_then_resume_two_equals_four_in_one_go(digits, tmp_path, family):
    with toy_family_registered():
        model_config = VAE if family == "vae" else ModelConfig(family=NAME, latent_dim=2, hidden=(16,))
        _, whole = drain(train(model_config, digits, config()))
        states, stopped = drain(train(model_config, digits, config(checkpoint_every=1)), stop_after_state=2)
        assert stopped is None and [s.epoch for s in states] == [1, 2]
        autosave.write_checkpoint(tmp_path / "ck", states[-1], data={"fingerprint": digits.fingerprint})
        saved, meta = autosave.read_checkpoint(tmp_path / "ck")
        assert set(saved.optimizers) == ({"model"} if family == "vae" else {"encoder", "decoder"})
        more, resumed = drain(train(model_config, digits, config(), resume=saved))
        assert more == []  # checkpointing is off in the resumed run
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert_same_run(whole, resumed)


def test_checkpointing_does_not_change_the_run(digits):
    _, plain = drain(train(VAE, digits, config(epochs=3)))
    states, every = drain(train(VAE, digits, config(epochs=3, checkpoint_every=2)))
    assert [s.epoch for s in states] == [2]
    assert_same_run(plain, every)


def test_checkpoint_interval_limits_how_often(digits):
    states, _ = drain(train(VAE, digits, config(epochs=3, checkpoint_every=1, checkpoint_interval_s=3600)))
    assert states == []


def test_resume_refuses_different_settings(digits, tmp_path):
    states, _ = drain(train(VAE, digits, config(checkpoint_every=1)), stop_after_state=1)
    with pytest.raises(LatentLabError, match=r"cannot resume.*lr 0\.003 \(now 0\.01\).*seed 3 \(now 4\)"):
        drain(train(VAE, digits, config(lr=1e-2, seed=4), resume=states[0]))
    with pytest.raises(LatentLabError, match=r"model latent_dim 2 \(now 3\)"):
        drain(train(ModelConfig(family="vae", arch="mlp", latent_dim=3, hidden=(32,), kl_warmup_epochs=3),
                    digits, config(), resume=states[0]))
    with pytest.raises(LatentLabError, match="data set"):
        drain(train(VAE, load_dataset("mnist", limit=500), config(), resume=states[0]))
    # Settings that do not change the result may differ.
    _, result = drain(train(VAE, digits, config(progress_interval_s=5.0), resume=states[0]))
    assert len(result.history) == 4


def test_checkpoint_files_are_safetensors_and_json(digits, tmp_path):
    states, _ = drain(train(VAE, digits, config(checkpoint_every=1)), stop_after_state=2)
    folder = tmp_path / "ck"
    for state in states:
        autosave.write_checkpoint(folder, state, data={"source": {"kind": "mnist"}}, extra={"out": "x"})
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["run-000002.safetensors", "run.json"]  # the first generation was replaced
    meta = json.loads((folder / "run.json").read_text())
    assert meta["epoch"] == 2 and meta["kind"] == "latentlab-run-checkpoint"
    found = autosave.find_interrupted_runs(tmp_path)
    assert [(r.folder, r.epoch, r.epochs, r.family, r.extra) for r in found] == [(folder, 2, 4, "vae", {"out": "x"})]
    assert not found[0].finished


def test_a_checkpoint_that_cannot_be_written_is_one_error_and_the_previous_one_stays(digits, tmp_path,
                                                                                   monkeypatch):
    states, _ = drain(train(VAE, digits, config(checkpoint_every=1)), stop_after_state=2)
    folder = tmp_path / "ck"
    autosave.write_checkpoint(folder, states[0])
    before = sorted(p.name for p in folder.iterdir())
    real_replace = autosave.os.replace

    def full_disk(src, dst):
        if str(dst).endswith("run.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(autosave.os, "replace", full_disk)
    with pytest.raises(LatentLabError, match="run.json.*No space left"):
        autosave.write_checkpoint(folder, states[1])
    monkeypatch.setattr(autosave.os, "replace", real_replace)
    assert sorted(p.name for p in folder.iterdir()) == before == ["run-000001.safetensors", "run.json"]
    state, _ = autosave.read_checkpoint(folder)
    assert state.epoch == 1


def test_damaged_checkpoints_are_refused(digits, tmp_path):
    states, _ = drain(train(VAE, digits, config(checkpoint_every=1)), stop_after_state=1)
    folder = tmp_path / "ck"
    autosave.write_checkpoint(folder, states[0])
    tensors = folder / "run-000001.safetensors"
    blob = bytearray(tensors.read_bytes())
    blob[-1] ^= 0xFF
    tensors.write_bytes(bytes(blob))
    with pytest.raises(LatentLabError, match="damaged"):
        autosave.read_checkpoint(folder)
    (folder / "run.json").write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(LatentLabError, match="nested"):
        autosave.read_checkpoint(folder)
    assert autosave.find_interrupted_runs(tmp_path) == []
    with pytest.raises(LatentLabError, match="no training checkpoint"):
        autosave.read_checkpoint(tmp_path / "nowhere")


def test_remove_checkpoint_leaves_foreign_folders_alone(digits, tmp_path):
    states, _ = drain(train(VAE, digits, config(checkpoint_every=1)), stop_after_state=1)
    autosave.write_checkpoint(tmp_path / "ck", states[0])
    (tmp_path / "ck" / "notes.txt").write_text("mine")
    with pytest.raises(LatentLabError, match="not removed"):
        autosave.remove_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "notes.txt").unlink()
    autosave.remove_checkpoint(tmp_path / "ck")
    assert not (tmp_path / "ck").exists()


def test_snapshots_are_not_run_states(digits):
    gen = train(VAE, digits, config(epochs=1, checkpoint_every=1))
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration:
            break
    kinds = [type(i).__name__ for i in items if isinstance(i, (RunState, Snapshot))]
    assert kinds.count("RunState") == 1 and kinds[-1] == "Snapshot"
