"""Mixed precision and torch.compile in training: what runs on a CPU, and clear refusals."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.core import precision
from latentlab.core.data import load_dataset
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig
from latentlab.core.models.registry import minimise
from latentlab.core.training import Progress, RunState, TrainConfig, train

TINY = ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(32,))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("mnist", limit=300)


def result_of(data: Dataset, **changes):
    config = TrainConfig(**{**dict(epochs=1, batch_size=64, seed=0, device="cpu", threads=1), **changes})
    gen = train(TINY, data, config)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_fp16_on_a_cpu_is_refused_before_training(digits):
    with pytest.raises(LatentLabError, match="fp16 training needs a CUDA GPU.*use bf16 or fp32"):
        result_of(digits, precision="fp16")


def test_precision_choices_on_a_gpu(monkeypatch):
    cuda = torch.device("cuda", 0)
    precision.check_precision("fp16", cuda)  # a GPU takes fp16 (no GPU is touched by the check)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(LatentLabError, match="no bfloat16 support"):
        precision.check_precision("bf16", cuda)
    with pytest.raises(LatentLabError, match="not on mps"):
        precision.check_precision("bf16", torch.device("mps"))


def test_an_unknown_precision_is_refused():
    with pytest.raises(LatentLabError, match="unknown precision 'fp8'"):
        TrainConfig(precision="fp8")


def test_bf16_trains_on_a_cpu_in_lower_precision(digits):
    full, half = result_of(digits), result_of(digits, precision="bf16")
    a, b = full.history[0]["train"]["loss"], half.history[0]["train"]["loss"]
    assert math.isfinite(b) and half.status == "finished"
    assert a != b  # the steps really ran in bfloat16 ...
    assert b == pytest.approx(a, rel=0.01)  # ... and learnt the same thing
    assert all(v.dtype == torch.float32 for v in half.model.state_dict().values())  # weights stay float32


def test_minimise_scales_the_loss_through_a_lent_scaler():
    """The fp16 path of the reconstruction families: scaled backward, unscaled step."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    with precision.scaling(scaler) as lent:
        minimise((w ** 2).sum(), opt)
    assert lent is not None and lent.used
    # The step used the true gradient 2w, not 1024 times it.
    torch.testing.assert_close(w.detach(), torch.tensor([1.0 - 0.2, -2.0 + 0.4]))
    assert precision.active_scaler() is None  # lent for the one step only


# Graph capture may peek at a non-leaf tensor's .grad inside torch, which warns.
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
def test_compile_gives_the_uncompiled_result_and_keeps_the_weight_names(digits):
    plain = result_of(digits)
    compiled = result_of(digits, compile="eager")
    assert compiled.history[0]["train"] == plain.history[0]["train"]
    assert list(compiled.model.state_dict()) == list(plain.model.state_dict())


def test_an_unknown_compile_backend_is_named(digits):
    with pytest.raises(LatentLabError, match="unknown torch.compile backend 'nonesuch'.*inductor"):
        result_of(digits, compile="nonesuch")


def test_a_compile_failure_is_one_clear_error(digits):
    from torch._dynamo import register_backend

    @register_backend(name="latentlab_test_broken")
    def broken(graph, inputs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no code generator here")

    with pytest.raises(LatentLabError, match="torch.compile with the latentlab_test_broken backend failed.*"
                                             "train without --compile"):
        result_of(digits, compile="latentlab_test_broken")


def test_conv_models_use_channels_last_on_cuda_only():
    conv = ModelConfig(family="vae", arch="conv", latent_dim=2, hidden=(8, 16))
    cuda, cpu = torch.device("cuda", 0), torch.device("cpu")
    assert precision.memory_format(conv, cuda) is torch.channels_last
    assert precision.memory_format(conv, cpu) is None
    assert precision.memory_format(TINY, cuda) is None   # an MLP has no image layout to choose


def test_channels_last_training_learns_what_the_default_layout_does(digits, monkeypatch):
    # The CUDA path, exercised on the CPU: the same run with NHWC weights and batches.
    conv = ModelConfig(family="vae", arch="conv", latent_dim=2, hidden=(8, 16))

    def run():
        gen = train(conv, digits, TrainConfig(epochs=1, batch_size=64, seed=0, device="cpu", threads=1))
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value, seen
            layouts = [p.is_contiguous(memory_format=torch.channels_last)
                       for p in trainer_model[0].parameters() if p.dim() == 4] if trainer_model else []
            seen.extend(layouts)

    seen: list[bool] = []
    trainer_model: list = []
    plain, _ = run()
    real_to = torch.nn.Module.to

    def remember(self, *args, **kwargs):
        out = real_to(self, *args, **kwargs)
        if kwargs.get("memory_format") is torch.channels_last:
            trainer_model[:] = [out]
        return out

    monkeypatch.setattr(precision, "memory_format", lambda config, device: torch.channels_last)
    monkeypatch.setattr(torch.nn.Module, "to", remember)
    seen = []
    nhwc, layouts = run()
    assert layouts and all(layouts)   # the conv weights were NHWC while training ran
    a, b = plain.history[0]["train"]["loss"], nhwc.history[0]["train"]["loss"]
    assert b == pytest.approx(a, rel=1e-3)
    for (name, p), q in zip(plain.model.state_dict().items(), nhwc.model.state_dict().values()):
        torch.testing.assert_close(p, q.contiguous(), rtol=1e-3, atol=1e-4, msg=name)


# -- "auto": bfloat16 where a family gains from it on a CPU that does it natively --------------
GAN = ModelConfig(family="gan", arch="mlp", latent_dim=2, hidden=(32,))


def run_of(model_config: ModelConfig, data: Dataset, resume=None, **changes):
    """(everything yielded, TrainResult) of a one-thread CPU run."""
    config = TrainConfig(**{**dict(epochs=1, batch_size=64, seed=0, device="cpu", threads=1), **changes})
    gen, items = train(model_config, data, config, resume=resume), []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def states_of(items) -> list[RunState]:
    return [item for item in items if isinstance(item, RunState)]


def same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("native", [True, False])
def test_auto_resolves_by_family_and_cpu(monkeypatch, native):
    from latentlab.core.models import registry

    monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    gan, vae = registry.get("gan"), registry.get("vae")
    assert precision.resolve("auto", cpu, gan) == ("bf16" if native else "fp32")
    assert precision.resolve("auto", cpu, registry.get("vae-gan")) == ("bf16" if native else "fp32")
    assert precision.resolve("auto", cpu, vae) == "fp32"      # a family that does not declare it
    assert precision.resolve("auto", cuda, gan) == "fp32"     # a GPU: the CPU's arithmetic is beside the point
    for asked in ("fp32", "bf16", "fp16"):
        assert precision.resolve(asked, cpu, gan) == asked    # what a person asks for stands
    assert TrainConfig().precision == "auto"


def test_the_default_trains_the_gan_in_bfloat16_on_a_native_cpu(digits, monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    items, auto = run_of(GAN, digits, checkpoint_every=1)
    _, half = run_of(GAN, digits, precision="bf16")
    _, full = run_of(GAN, digits, precision="fp32")
    assert same_weights(auto, half) and not same_weights(auto, full)
    assert states_of(items)[-1].train_config["precision"] == "bf16"   # the checkpoint records what ran
    assert {item.precision for item in items if isinstance(item, Progress)} == {"bf16"}  # and the reports say it
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    _, plain = run_of(GAN, digits)
    assert same_weights(plain, full)                          # elsewhere the default is float32


def test_auto_resumes_what_it_resolves_to_and_names_the_difference(digits, monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    saved_vae = states_of(run_of(TINY, digits, checkpoint_every=1, epochs=2, precision="fp32")[0])[0]
    run_of(TINY, digits, resume=saved_vae, epochs=2)          # "auto" is float32 for a VAE: resumes
    saved_gan = states_of(run_of(GAN, digits, checkpoint_every=1, epochs=2, precision="fp32")[0])[0]
    with pytest.raises(LatentLabError, match=r"precision fp32 \(now bf16\)"):
        run_of(GAN, digits, resume=saved_gan, epochs=2)
    run_of(GAN, digits, resume=saved_gan, epochs=2, precision="fp32")
