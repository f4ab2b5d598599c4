"""The sequence families (seq-vae, rvae, stream-ae): training, files, likelihood, evaluation, scoring."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latentlab.core import inference, render
from latentlab.core.checkpoint import load_model, save_model
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.metrics import evaluate, posterior_verdict
from latentlab.core.models import ModelConfig, build_model, registry
from latentlab.core.models.registry import StepContext
from latentlab.core.models.rvae import clipped_step
from latentlab.core.plan import TrainingSettings, plan_training
from latentlab.core.scoring import auroc, save_scores, score_series
from latentlab.core.training import train

CASES = [("seq-vae", "mlp", "strokes"), ("seq-vae", "conv", "strokes"), ("rvae", "gru", "waves"),
         ("stream-ae", "conv", "waves"), ("stream-ae", "gru", "waves")]


def _run(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _config(family: str, data: Dataset, arch: str, **kw) -> ModelConfig:
    return ModelConfig(family=family, arch=arch, input_shape=data.shape, latent_dim=2,
                       hidden=registry.get(family).default_hidden(arch), feature_names=data.feature_names, **kw)


def test_families_are_registered_as_sequence_families() -> None:
    for name in ("seq-vae", "rvae", "stream-ae"):
        family = registry.get(name)
        assert family.capabilities.output == "sequence" and family.capabilities.encoder
    assert registry.get("rvae").archs == ("gru",) and registry.get("rvae").default("kl_warmup_epochs") == 2
    with pytest.raises(LatentLabError, match=r"\(T, F\)"):
        ModelConfig(family="seq-vae", input_shape=(1, 28, 28))


@pytest.mark.parametrize("family, arch, source", CASES)
def test_each_family_trains_and_round_trips_a_model_file(tmp_path: Path, family: str, arch: str,
                                                         source: str) -> None:
    settings = TrainingSettings(data=source, limit=96, family=family, arch=arch, latent_dim=2, epochs=2,
                                batch_size=32, threads=1, device="cpu")
    plan = plan_training(settings)
    assert plan.model_config.feature_names == plan.data.feature_names
    result = _run(train(plan.model_config, plan.data, plan.train_config))
    assert result.status == "finished" and len(result.history) == 2
    assert all(math.isfinite(v) for v in result.history[-1]["train"].values())
    save_model(tmp_path / "m", result.model)
    loaded = load_model(tmp_path / "m")
    assert loaded.config == result.model.config
    z = torch.randn(3, 2)
    assert torch.equal(inference.decode(loaded.model, z), inference.decode(result.model, z))
    codes = inference.encode_dataset(loaded.model, plan.data)
    assert codes.shape == (96, 2) and np.isfinite(codes).all()


def test_a_sequence_family_refuses_image_data_and_an_image_family_sequences() -> None:
    with pytest.raises(LatentLabError, match="models sequences, but 'moons' holds images"):
        plan_training(TrainingSettings(data="moons", limit=10, family="seq-vae"))
    with pytest.raises(LatentLabError, match="models images, but 'strokes' holds sequences"):
        plan_training(TrainingSettings(data="strokes", limit=10, family="vae"))


def test_decoded_sequences_are_not_squashed_and_pen_is_a_probability() -> None:
    data = load_dataset("strokes", limit=8)
    model = build_model(_config("seq-vae", data, "mlp")).eval()
    last = model.decoder.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([5.0, -7.0, 3.0]).repeat(data.shape[0]))
    out = inference.decode(model, torch.zeros(2, 2))
    assert out.shape == (2, *data.shape)
    assert torch.allclose(out[..., 0], torch.tensor(5.0)) and torch.allclose(out[..., 1], torch.tensor(-7.0))
    assert torch.allclose(out[..., 2], torch.sigmoid(torch.tensor(3.0)))
    # The renderer takes the decoded output as it is: pen down (p > 0.5) everywhere.
    spec = render.output_spec(model.config)
    assert spec.kind == "sequence" and spec.features == ("x", "y", "pen")


def test_likelihood_is_gaussian_positions_and_bernoulli_pen() -> None:
    data = load_dataset("strokes", limit=4)
    model = build_model(_config("seq-vae", data, "mlp", options={"sigma": 0.2}))
    x = data.images
    out = torch.randn_like(x)
    sigma = 0.2
    gauss = ((out[..., :2] - x[..., :2]) ** 2).sum((1, 2)) / (2 * sigma**2) \
        + x.shape[1] * 2 * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    bern = F.binary_cross_entropy_with_logits(out[..., 2], x[..., 2], reduction="none").sum(1)
    assert torch.allclose(model.nll(out, x), gauss + bern, rtol=1e-5)
    # A signal has no pen: every feature is Gaussian.
    waves = load_dataset("waves", limit=4, window=32)
    plain = build_model(_config("seq-vae", waves, "mlp"))
    o = torch.randn_like(waves.images)
    expected = ((o - waves.images) ** 2).sum((1, 2)) / (2 * 0.01) + 32 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(plain.nll(o, waves.images), expected, rtol=1e-5)


def test_free_bits_floor_each_dimension_in_the_loss_only() -> None:
    data = load_dataset("waves", limit=16, window=32)
    model = build_model(_config("rvae", data, "gru", options={"free_bits": 5.0}))
    torch.manual_seed(0)
    out = model.loss(data.images, kl_weight=1.0)
    # A fresh model's KL is far below 5 nats per dimension: the loss counts 5 per dimension.
    assert float(out["kl"].detach()) < 2 * 5.0
    assert float(out["loss"].detach()) == pytest.approx(float(out["recon"].detach()) + 2 * 5.0, rel=1e-5)


def test_rvae_step_clips_the_gradient_norm() -> None:
    data = load_dataset("waves", limit=16, window=32)
    model = build_model(_config("rvae", data, "gru", options={"clip": 1e-3}))
    before = [p.detach().clone() for p in model.parameters()]
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    ctx = StepContext(epoch=1, epochs=1, step_in_epoch=0, steps_per_epoch=1, global_step=0)
    clipped_step(model, data.images, None, {"model": sgd}, ctx)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert 0 < float(moved) <= 1e-3 * 1.001


def test_evaluate_reports_active_units_and_names_a_collapsed_posterior() -> None:
    data = load_dataset("waves", limit=64, window=32)
    model = build_model(_config("rvae", data, "gru")).eval()
    with torch.no_grad():
        model.encoder.out.weight.zero_()
        model.encoder.out.bias.zero_()   # mu = 0, logvar = 0 for every input: the prior itself
    metrics = evaluate(model, data)
    assert metrics["active_units"] == 0 and metrics["posterior"].startswith("collapsed")
    assert set(metrics["factor_r2"]) == {"frequency", "phase", "amplitude", "shape"}
    assert {"recon", "kl", "neg_elbo", "kl_per_dim", "n"} <= set(metrics)
    assert posterior_verdict([0.5, 0.0]).startswith("partly collapsed: 1 of 2")
    assert posterior_verdict([0.5, 0.2]).startswith("active")
    # A deterministic stream autoencoder has no posterior to collapse.
    assert "posterior" not in evaluate(build_model(_config("stream-ae", data, "conv")), data)


def test_gru_code_sees_the_middle_of_a_long_sequence_and_decoder_reads_only_code_and_position() -> None:
    torch.manual_seed(0)
    steps = 400
    config = ModelConfig(family="rvae", arch="gru", input_shape=(steps, 1), latent_dim=2, hidden=(16,),
                         feature_names=("signal",))
    model = build_model(config).eval()
    x = torch.randn(1, steps, 1, requires_grad=True)
    mu, _ = model.encode(x)
    (grad,) = torch.autograd.grad(mu.sum(), x)
    size = grad.abs()[0, :, 0]
    # The final states alone forget the middle of 400 steps (a gradient many orders of magnitude
    # below the ends'); the mean over time reaches every step directly. (Averaged over a few
    # middle steps: through the front end's convolution one step's terms may nearly cancel.)
    middle = size[steps // 2 - 5: steps // 2 + 5]
    assert float(middle.mean()) > 1e-3 * float(size.max())
    # The decoder's step input is the code and the step's position, no fixed harmonics.
    assert model.decoder.gru.input_size == config.latent_dim + 1
    assert torch.equal(model.decoder.position[0, [0, -1], 0], torch.tensor([-1.0, 1.0]))


def test_rvae_encoder_has_a_conv_front_end_and_files_saved_without_one_still_load(tmp_path: Path) -> None:
    import json

    data = load_dataset("waves", limit=8, window=16)
    model = build_model(_config("rvae", data, "gru"))
    assert model.config.options["front"] == 5
    conv = model.encoder.front[0]
    assert conv.kernel_size == (5,) and model.encoder.gru.input_size == conv.out_channels
    mu, logvar = model.encode(data.images)
    assert mu.shape == logvar.shape == (8, 2)
    # An even width is cropped back to the sequence's length.
    even = build_model(_config("rvae", data, "gru", options={"front": 4}))
    assert even.encode(data.images)[0].shape == (8, 2)
    with pytest.raises(LatentLabError, match="front"):
        _config("rvae", data, "gru", options={"front": -1})
    # A model saved before the option existed: its config.json has no "front" and its weights no
    # front end. It opens as that network (front 0), not as today's default, and decodes the same.
    torch.manual_seed(0)
    old = build_model(_config("rvae", data, "gru", options={"front": 0}))
    assert old.encoder.front is None and old.encoder.gru.input_size == 1
    save_model(tmp_path / "old", old)
    config_file = tmp_path / "old" / "config.json"
    meta = json.loads(config_file.read_text())
    del meta["model"]["options"]["front"]
    config_file.write_text(json.dumps(meta))
    loaded = load_model(tmp_path / "old")
    assert loaded.config.options["front"] == 0
    assert torch.equal(loaded.model.encode(data.images)[0], old.encode(data.images)[0])
    # A new file names the option, so it reloads as saved.
    save_model(tmp_path / "new", model)
    assert load_model(tmp_path / "new").config.options["front"] == 5


def _stream_model(features: int = 2, window: int = 16) -> torch.nn.Module:
    config = ModelConfig(family="stream-ae", arch="conv", input_shape=(window, features), latent_dim=3,
                         hidden=(8, 8), feature_names=tuple(f"c{k}" for k in range(features)))
    return build_model(config).eval()


def test_score_series_matches_encoding_each_window() -> None:
    model = _stream_model()
    series = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    scores = score_series(model, series, stride=7, chunk=4)
    assert scores.starts.tolist() == list(range(0, 85, 7))
    windows = torch.stack([torch.from_numpy(series[s:s + 16]) for s in scores.starts])
    with torch.no_grad():
        mu, _ = model.encode(windows)
        per_step = (model.decode_image(mu) - windows).pow(2).mean(2)
    assert np.allclose(scores.codes, mu.numpy(), atol=1e-5)
    assert np.allclose(scores.errors, per_step.mean(1).numpy(), rtol=1e-4)
    assert np.allclose(scores.peaks, per_step.amax(1).numpy(), rtol=1e-4)
    assert score_series(model, series, 7, should_stop=lambda: True) is None
    with pytest.raises(LatentLabError, match="reads 2 channels"):
        score_series(model, series[:, :1], 1)


def test_save_scores_writes_start_error_and_code(tmp_path: Path) -> None:
    model = _stream_model()
    series = np.random.default_rng(1).normal(size=(40, 2)).astype(np.float32)
    scores = score_series(model, series, stride=8)
    save_scores(tmp_path / "s.csv", scores)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "start,error,peak,z0,z1,z2" and len(lines) == 1 + len(scores)
    row = lines[2].split(",")
    assert int(row[0]) == 8 and float(row[1]) == pytest.approx(float(scores.errors[1]), rel=1e-5)
    assert float(row[2]) == pytest.approx(float(scores.peaks[1]), rel=1e-5)
    assert float(row[5]) == pytest.approx(float(scores.codes[1, 2]), rel=1e-5)
    with pytest.raises(LatentLabError, match=".csv"):
        save_scores(tmp_path / "s.txt", scores)


def test_auroc_matches_counting_pairs() -> None:
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 60).astype(float)   # many ties
    y = rng.random(60) < 0.3
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auroc(s, y) == pytest.approx(pairs)
    assert auroc(np.arange(4.0), np.array([False, False, True, True])) == 1.0
