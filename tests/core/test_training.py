"""The trainer: learning, reports, snapshots, control, divergence, resume, devices."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch
from torch import nn

import latentlab.core.models as models
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.device import (
    fast_linear_layers,
    fast_linear_supported,
    resolve_device,
    set_fast_linear,
    thread_budget,
)
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import loss_terms
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.training import Progress, Snapshot, TrainConfig, TrainControl, train, warm_up

TINY = ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(32,))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    """1,000 real MNIST digits: 800 train / 200 validation with the default split."""
    return load_dataset("mnist", limit=1000)


def fast_config(**changes) -> TrainConfig:
    base = dict(epochs=2, batch_size=100, lr=3e-3, seed=0, device="cpu", threads=1)
    base.update(changes)
    return TrainConfig(**base)


def run(gen) -> tuple[list, object]:
    """Drain a training generator: (items yielded, TrainResult)."""
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# -- learning and reports ----------------------------------------------------------------
def test_training_lowers_the_validation_loss(digits):
    _, val_idx = digits.split(0.2, 0)
    torch.manual_seed(0)
    untrained = loss_terms(build_model(TINY), digits.images[val_idx])["loss"]
    _, result = run(train(TINY, digits, fast_config()))
    assert result.status == "finished"
    first, last = (h["val"]["loss"] for h in (result.history[0], result.history[-1]))
    assert last < first < untrained
    assert not result.model.training
    assert all(p.device.type == "cpu" for p in result.model.parameters())


def test_progress_reports_are_sane(digits):
    items, result = run(train(TINY, digits, fast_config(progress_interval_s=0.0)))
    reports = [i for i in items if isinstance(i, Progress)]
    steps = [p.step for p in reports]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    for p in reports:
        assert p.epochs == 2 and 1 <= p.epoch <= 2
        assert p.steps_per_epoch == 8  # 800 training images in batches of 100
        assert set(p.terms) == {"loss", "recon", "kl"}
        assert all(math.isfinite(v) for v in p.terms.values())
        assert p.images_per_s > 0 and p.eta_s >= 0
    closing = [p for p in reports if p.epoch_done]
    assert [p.epoch for p in closing] == [1, 2]
    assert all(set(p.val) == {"loss", "recon", "kl", "neg_elbo"} for p in closing)
    assert all(p.val is None for p in reports if not p.epoch_done)
    assert closing[-1].eta_s == 0.0 and closing[-1].step == 16
    assert closing[0].val == result.history[0]["val"]
    entry = result.history[0]
    assert set(entry) >= {"epoch", "train", "val", "images_per_s", "seconds", "kl_weight"}
    assert entry["val"]["neg_elbo"] == pytest.approx(entry["val"]["recon"] + entry["val"]["kl"])


def test_kl_warm_up_ramps_the_weight(digits, monkeypatch):
    weights: list[float] = []
    real_build = models.build_model

    def recording_build(config):
        model = real_build(config)
        real_loss = model.loss

        def loss(x, y=None, kl_weight=None):
            if model.training:  # validation (eval mode) always uses the full weight
                weights.append(kl_weight)
            return real_loss(x, y, kl_weight)

        model.loss = loss
        return model

    monkeypatch.setattr(models, "build_model", recording_build)
    config = ModelConfig(family="beta-vae", latent_dim=2, hidden=(32,), beta=4.0, kl_warmup_epochs=2)
    _, result = run(train(config, digits, fast_config(epochs=3)))
    assert weights[0] == 0.0
    assert weights == sorted(weights)
    assert weights[8] == pytest.approx(2.0)  # epoch 2, first step: half-way through warm-up
    assert weights[-1] == pytest.approx(4.0)
    assert [h["kl_weight"] for h in result.history] == pytest.approx([2.0, 4.0, 4.0])


def test_only_a_family_with_a_schedule_records_schedule_values(digits):
    config = ModelConfig(family="ae", latent_dim=2, hidden=(32,))
    _, result = run(train(config, digits, fast_config(epochs=1)))
    entry = result.history[0]
    assert set(entry) == {"epoch", "train", "val", "images_per_s", "seconds"}
    assert set(entry["val"]) == {"loss", "recon", "kl"}  # no ELBO without a posterior


def test_per_optimiser_learning_rates_are_checked_and_round_trip():
    config = TrainConfig(lr=1e-3, lrs={"discriminator": 4e-4})
    assert config.lr_for("discriminator") == 4e-4 and config.lr_for("model") == 1e-3
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.lrs == {"discriminator": 4e-4}
    assert TrainConfig.from_dict({"lr": 0.01}).lrs == {}  # settings saved before lrs existed
    for bad in ({"model": 0.0}, {"model": -1}, {"model": float("nan")}, {"model": "fast"}, {"": 1e-3},
                {"model": True}, ["model"]):
        with pytest.raises(LatentLabError, match="learning rate|optimiser"):
            TrainConfig(lrs=bad)


def test_training_without_a_validation_split(digits):
    items, result = run(train(TINY, digits, fast_config(epochs=1, val_fraction=0.0)))
    closing = [i for i in items if isinstance(i, Progress) and i.epoch_done]
    assert len(closing) == 1 and closing[0].val is None
    assert result.history[0]["val"] == {} and closing[0].steps_per_epoch == 10


# -- snapshots ----------------------------------------------------------------------------
def test_snapshots_are_copies_that_do_not_share_memory(digits):
    items, result = run(train(TINY, digits, fast_config(snapshot_interval_s=0.0)))
    snaps = [i for i in items if isinstance(i, Snapshot)]
    assert len(snaps) >= 3
    first, final = snaps[0], snaps[-1]
    assert first.step < final.step
    # An early snapshot was not torn by later optimiser steps.
    assert any(not torch.equal(first.state[k], final.state[k]) for k in first.state)
    model_state = result.model.state_dict()
    assert set(final.state) == set(model_state)
    for k, v in final.state.items():
        assert torch.equal(v, model_state[k])
        assert v.data_ptr() != model_state[k].data_ptr()
    before = state_of(result.model)
    for v in final.state.values():
        v.add_(1.0)
    after = state_of(result.model)
    assert all(torch.equal(before[k], after[k]) for k in before)


# -- control --------------------------------------------------------------------------------
class SignallingControl(TrainControl):
    """A TrainControl that tells the test when the trainer starts waiting in a pause."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait_if_paused(self, timeout=None):
        self.waiting.set()
        super().wait_if_paused(timeout)


def test_pause_then_resume_from_another_thread(digits):
    control = SignallingControl()
    first_item = threading.Event()
    items: list = []
    outcome: dict = {}

    def consume():
        # No timed snapshots: the only items are one report per step, so the count is exact.
        gen = train(TINY, digits, fast_config(progress_interval_s=0.0, snapshot_interval_s=3600.0), control)
        try:
            while True:
                items.append(next(gen))
                first_item.set()
                if len(items) == 1:
                    control.pause()  # paused after the first report, before the next step
        except StopIteration as stop:
            outcome["result"] = stop.value

    worker = threading.Thread(target=consume)
    worker.start()
    try:
        assert first_item.wait(60)
        assert control.waiting.wait(60), "the trainer never blocked in the pause"
        held = len(items)
        assert held == 1 and control.paused
        control.resume()
    finally:
        control.resume()
        worker.join(120)
    assert not worker.is_alive()
    result = outcome["result"]
    assert result.status == "finished" and len(result.history) == 2
    assert max(i.step for i in items) == 16


def test_cancel_stops_within_a_step(digits):
    control = TrainControl()
    gen = train(TINY, digits, fast_config(progress_interval_s=0.0), control)
    first = next(gen)
    assert isinstance(first, Progress) and first.step == 1
    control.cancel()
    items, result = run(gen)
    assert result.status == "cancelled"
    assert "cancelled" in result.message
    assert all(i.step == 1 for i in items)  # only the closing snapshot, no further step
    assert isinstance(items[-1], Snapshot)
    assert not result.model.training


def test_cancel_while_paused_ends_the_wait(digits):
    control = SignallingControl()
    outcome: dict = {}

    def consume():
        gen = train(TINY, digits, fast_config(progress_interval_s=0.0), control)
        next(gen)
        control.pause()
        outcome["result"] = run(gen)[1]

    worker = threading.Thread(target=consume)
    worker.start()
    assert control.waiting.wait(60)
    control.cancel()
    worker.join(120)
    assert not worker.is_alive()
    assert outcome["result"].status == "cancelled"


# -- reproducibility, divergence, resume -----------------------------------------------------
def test_same_seed_gives_identical_weights(digits):
    a = run(train(TINY, digits, fast_config(epochs=1)))[1].model.state_dict()
    # A consumer drawing random numbers between reports must not change the run.
    gen = train(TINY, digits, fast_config(epochs=1, progress_interval_s=0.0))
    while True:
        try:
            next(gen)
            torch.rand(7)
        except StopIteration as stop:
            b = stop.value.model.state_dict()
            break
    c = run(train(TINY, digits, fast_config(epochs=1, seed=1)))[1].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_training_leaves_the_callers_random_stream_alone(digits):
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    run(train(TINY, digits, fast_config(epochs=1)))
    assert torch.equal(torch.rand(5), expected)


def test_huge_learning_rate_diverges_and_restores_finite_weights(digits):
    _, result = run(train(TINY, digits, fast_config(lr=1e4)))
    assert result.status == "diverged"
    assert "diverged" in result.message and "lower learning rate" in result.message
    assert all(torch.isfinite(v).all() for v in result.model.state_dict().values())


def test_nan_loss_restores_the_last_good_snapshot(digits, monkeypatch):
    real_build = models.build_model

    def poisoned_build(config):
        model = real_build(config)
        real_loss = model.loss
        calls = {"n": 0}

        def loss(x, y=None, kl_weight=None):
            calls["n"] += 1
            out = real_loss(x, y, kl_weight)
            if calls["n"] == 5:  # the fifth step's loss (and so its gradients) is NaN
                out = {k: v * float("nan") for k, v in out.items()}
            return out

        model.loss = loss
        return model

    monkeypatch.setattr(models, "build_model", poisoned_build)
    config = fast_config(progress_interval_s=0.0, snapshot_interval_s=0.0)
    items, result = run(train(TINY, digits, config))
    assert result.status == "diverged"
    assert "step 5" in result.message and "NaN" in result.message and "step 4" in result.message
    good = [i for i in items if isinstance(i, Snapshot) and i.step == 4][0]
    restored = result.model.state_dict()
    assert all(torch.equal(good.state[k], restored[k]) for k in restored)
    assert result.history == []


def test_resume_continues_from_the_initial_weights(digits):
    first = run(train(TINY, digits, fast_config(epochs=1)))[1].model
    start = state_of(first)
    # With a vanishing learning rate the weights must stay where the initial model left them.
    resumed = run(train(TINY, digits, fast_config(epochs=1, lr=1e-12), initial=first))[1].model
    fresh = run(train(TINY, digits, fast_config(epochs=1, lr=1e-12)))[1].model
    for k, v in resumed.state_dict().items():
        assert torch.allclose(v, start[k], atol=1e-6)
    assert any(not torch.allclose(fresh.state_dict()[k], start[k], atol=1e-3) for k in start)
    assert all(torch.equal(v, start[k]) for k, v in first.state_dict().items())  # not mutated
    assert resumed is not first


def test_resume_from_a_different_architecture_is_refused(digits):
    other = build_model(ModelConfig(family="vae", latent_dim=2, hidden=(16,)))
    with pytest.raises(LatentLabError, match="continue training"):
        next(train(TINY, digits, fast_config(), initial=other))


# -- families ------------------------------------------------------------------------------
def test_pca_is_fitted_in_one_step(digits):
    config = ModelConfig(family="pca", latent_dim=2, hidden=(32,))
    items, result = run(train(config, digits, fast_config(epochs=5)))
    progress = [i for i in items if isinstance(i, Progress)]
    snaps = [i for i in items if isinstance(i, Snapshot)]
    assert len(progress) == 1 and len(snaps) == 1
    assert progress[0].epoch_done and progress[0].val["loss"] > 0
    assert result.status == "finished" and len(result.history) == 1
    assert int(result.model.n_samples) == 800  # fitted on the training split only
    assert torch.equal(snaps[0].state["components"], result.model.components)


def test_cvae_trains_on_each_image_with_its_own_label(digits, monkeypatch):
    label_of = {img.numpy().tobytes(): int(y) for img, y in zip(digits.images, digits.labels)}
    batches_in_step: list[bool] = []
    real_build = models.build_model

    def recording_build(config):
        model = real_build(config)
        real_loss = model.loss

        def loss(x, y=None, kl_weight=None):
            if model.training:  # shuffling must move images and labels together
                batches_in_step.append([label_of[img.numpy().tobytes()] for img in x] == y.tolist())
            return real_loss(x, y, kl_weight)

        model.loss = loss
        return model

    monkeypatch.setattr(models, "build_model", recording_build)
    config = ModelConfig(family="cvae", latent_dim=2, hidden=(32,), num_classes=10)
    _, result = run(train(config, digits, fast_config(epochs=1)))
    assert result.status == "finished"
    assert math.isfinite(result.history[0]["val"]["loss"])
    assert len(batches_in_step) == 8 and all(batches_in_step)


def test_convolutional_model_trains(digits):
    config = ModelConfig(family="ae", arch="conv", latent_dim=2, hidden=(4, 8))
    _, result = run(train(config, digits, fast_config(epochs=2, lr=1e-2)))
    assert result.status == "finished"
    assert result.history[-1]["val"]["loss"] < result.history[0]["val"]["loss"]


def test_cvae_without_labels_is_a_user_error(digits):
    unlabelled = Dataset(name="plain", images=digits.images[:100])
    config = ModelConfig(family="cvae", latent_dim=2, hidden=(32,), num_classes=10)
    with pytest.raises(LatentLabError, match="labels"):
        next(train(config, unlabelled, fast_config()))


def test_wrong_image_shape_is_a_user_error(digits):
    config = ModelConfig(family="vae", input_shape=(1, 32, 32), latent_dim=2, hidden=(32,))
    with pytest.raises(LatentLabError, match="shape"):
        next(train(config, digits, fast_config()))


# -- devices and threads -----------------------------------------------------------------------
def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(LatentLabError, match="unknown device"):
        resolve_device("banana")
    if not torch.cuda.is_available():
        with pytest.raises(LatentLabError, match="CUDA"):
            resolve_device("cuda:0")


def test_unavailable_device_fails_training(digits):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(LatentLabError, match="cuda"):
        next(train(TINY, digits, fast_config(device="cuda")))


def test_thread_budget_is_applied_and_restored(digits):
    previous = torch.get_num_threads()
    seen: list[int] = []
    try:
        torch.set_num_threads(2)
        gen = train(TINY, digits, fast_config(epochs=1, threads=1, progress_interval_s=0.0))
        next(gen)
        seen.append(torch.get_num_threads())
        run(gen)
        seen.append(torch.get_num_threads())
        with thread_budget(None):
            seen.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(previous)
    assert seen == [1, 2, 2]


def test_fast_linear_layers_match_the_default_kernel():
    if not fast_linear_supported():
        pytest.skip("the oneDNN route is not available on this machine")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(300, 128), nn.ReLU(), nn.Linear(128, 300))
    x = torch.rand(64, 300)

    def forward_backward():
        net.zero_grad()
        out = net(x)
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in net.parameters()]

    ref_out, ref_grads = forward_backward()
    with fast_linear_layers(net) as rerouted:
        assert rerouted == 2
        out, grads = forward_backward()
    assert all("forward" not in m.__dict__ for m in net.modules())
    assert torch.allclose(out, ref_out, rtol=1e-4, atol=1e-4)
    assert all(torch.allclose(g, r, rtol=1e-4, atol=1e-3) for g, r in zip(grads, ref_grads))


def test_fast_linear_can_be_switched_off():
    net = nn.Linear(300, 300)
    set_fast_linear(False)
    try:
        with fast_linear_layers(net) as rerouted:
            assert rerouted == 0
    finally:
        set_fast_linear(True)


def test_warm_up_does_its_one_off_work_once(monkeypatch):
    from latentlab.core import device

    made: list[float] = []
    real_make = device.make_optimizer
    monkeypatch.setattr(device, "_warmed", False)
    monkeypatch.setattr(device, "make_optimizer", lambda params, lr: made.append(lr) or real_make(params, lr))
    warm_up()
    warm_up()  # the second call must be a cheap no-op
    assert made == [1e-3]
    assert device._fast_linear_checked is not None  # the fast-kernel probe has run
