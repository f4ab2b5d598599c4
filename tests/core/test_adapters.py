"""ExternalModel: a person's own encoder and decoder behind LatentLab's model interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

import latentlab
from latentlab.core import inference, latent
from latentlab.core.adapters import ExternalModel, external_family_name, grid_search_codes, save_weights
from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.render import output_spec


def forget_external_families() -> None:
    """Remove the families wrapping registers, so other tests see only their own list."""
    for output in ("image", "sequence"):
        for enc in (True, False):
            registry.unregister(external_family_name(output, enc))


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    forget_external_families()


class Tiny(nn.Module):
    """An autoencoder of 4x4 grey images with a 2-D code; decodes logits."""

    def __init__(self, variational: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.variational = variational
        self.enc = nn.Linear(16, 4)
        self.dec = nn.Linear(2, 16)

    def encode(self, x):
        h = self.enc(x.flatten(1))
        return (h[:, :2], h[:, 2:]) if self.variational else h[:, :2]

    def decode(self, z):
        return self.dec(z).view(-1, 1, 4, 4) * 10   # far outside [0, 1]: logits


def test_a_module_with_encode_and_decode_works_with_inference() -> None:
    module = Tiny()
    model = latentlab.wrap(module, latent_dim=2)
    assert isinstance(model, ExternalModel) and model.config.family == "external"
    assert model.output_range == "logits" and output_spec(model.config).kind == "image"
    x = torch.rand(5, 1, 4, 4)
    codes = inference.encode(model, x)
    with torch.no_grad():
        assert np.allclose(codes, module.encode(x).numpy(), atol=1e-6)
        decoded = inference.decode(model, codes)
        assert torch.allclose(decoded, torch.sigmoid(module.decode(torch.from_numpy(codes))), atol=1e-6)
    path = latent.path_through(torch.from_numpy(codes[:2]), 3)
    assert inference.decode(model, path).shape == (5, 1, 4, 4)


def test_a_variational_encoder_gives_kl_per_dimension() -> None:
    model = latentlab.wrap(Tiny(variational=True), latent_dim=2)
    data = latentlab.as_dataset(torch.rand(20, 1, 4, 4))
    kl = inference.kl_per_dim(model, data)
    assert kl.shape == (2,) and (kl > 0).all()
    assert not inference.kl_per_dim(latentlab.wrap(Tiny(), latent_dim=2), data).any()


def test_the_code_size_is_learnt_from_an_example_and_the_range_is_inferred() -> None:
    unit = ExternalModel(encoder=lambda x: x.flatten(1)[:, :3], example=torch.rand(2, 1, 4, 4),
                         decoder=lambda z: torch.sigmoid(z.sum(1)).view(-1, 1, 1, 1).expand(-1, 3, 8, 8))
    assert unit.config.latent_dim == 3 and unit.output_range == "unit"
    assert unit.config.input_shape == (3, 8, 8)
    tanh = ExternalModel(decoder=lambda z: torch.tanh(z[:, :1]).view(-1, 1, 1, 1).expand(-1, 1, 2, 2),
                         latent_dim=2)
    assert tanh.output_range == "tanh" and not tanh.has_encoder
    assert torch.allclose(inference.decode(tanh, torch.zeros(1, 2)), torch.full((1, 1, 2, 2), 0.5))


def test_a_sequence_decoder_is_a_sequence_model() -> None:
    model = ExternalModel(decoder=lambda z: z[:, None, :].repeat(1, 5, 1), latent_dim=3,
                          feature_names=("x", "y", "pen"))
    spec = output_spec(model.config)
    assert (spec.kind, spec.shape, spec.features) == ("sequence", (5, 3), ("x", "y", "pen"))
    out = inference.decode(model, torch.tensor([[-2.0, 3.0, 1.0]]))
    assert torch.equal(out[0, 0], torch.tensor([-2.0, 3.0, 1.0]))   # used as it is, not clamped


def test_copies_for_other_threads_follow_a_snapshot() -> None:
    model = latentlab.wrap(Tiny(), latent_dim=2)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["parts.module.dec.bias"] += 1.0
    copy = inference.model_from_state(model.config, state)
    assert copy is not model and copy.parts.module is not model.parts.module
    z = torch.zeros(1, 2)
    assert not torch.allclose(inference.decode(copy, z), inference.decode(model, z))
    # The encoder of the copy is the copy's own module, not the original's.
    x = torch.rand(3, 1, 4, 4)
    model.parts.module.enc.bias.data += 5.0
    assert not np.allclose(inference.encode(copy, x), inference.encode(model, x))


def test_grid_search_places_items_near_the_code_that_made_them() -> None:
    def decoder(z):
        # A smooth, one-to-one map from a 2-D code to 2x2 grey images.
        a, b = torch.sigmoid(z[:, 0]), torch.sigmoid(z[:, 1])
        return torch.stack([a, b, 1 - a, 1 - b], 1).view(-1, 1, 2, 2)

    gen = ExternalModel(decoder=decoder, latent_dim=2)
    truth = torch.tensor([[-1.5, 0.3], [2.1, -2.4]])
    with torch.no_grad():
        placed = grid_search_codes(gen, decoder(truth))
    assert torch.allclose(placed, truth, atol=0.1)
    with pytest.raises(LatentLabError, match="3 or fewer"):
        grid_search_codes(ExternalModel(decoder=lambda z: z[:, :1].view(-1, 1, 1, 1), latent_dim=4),
                          torch.zeros(1, 1, 1, 1))
    # A decoder alone is placed like a GAN: the engine inverts it (core/inversion.py).
    np.testing.assert_allclose(inference.encode(gen, decoder(truth)), truth.numpy(), atol=0.05)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"model": object()}, "no decode(z) method"),
    ({"model": None}, "needs a decoder"),
    ({"decoder": lambda z: z, "latent_dim": 2}, "shape (2,)"),
    ({"decoder": lambda z: torch.zeros(2, 4, 5, 5), "latent_dim": 2}, "[C, H, W] with 1 or 3 channels"),
    ({"decoder": lambda z: torch.zeros(2, 1, 3, 3)}, "give latent_dim="),
    ({"decoder": lambda z: torch.zeros(len(z), 1, 3, 3), "latent_dim": 2, "output_range": "bright"},
     "output_range must be one of"),
    ({"decoder": lambda z: 1 / 0, "latent_dim": 2}, "ZeroDivisionError"),
    ({"decoder": lambda z: "pixels", "latent_dim": 2}, "must return a tensor"),
])
def test_unusable_models_get_one_clear_error(kwargs, fragment) -> None:
    with pytest.raises(LatentLabError) as err:
        latentlab.wrap(**kwargs)
    assert fragment in str(err.value)


def test_an_encoder_returning_the_wrong_shape_is_named() -> None:
    model = ExternalModel(encoder=lambda x: torch.zeros(len(x), 3), decoder=lambda z: torch.zeros(len(z), 1, 2, 2),
                          latent_dim=2)
    with pytest.raises(LatentLabError, match=r"codes of shape \(4, 3\); expected \[4, 2\]"):
        inference.encode(model, torch.zeros(4, 1, 2, 2))


def test_a_wrapped_model_is_not_saved_as_a_latentlab_model_but_its_weights_are(tmp_path: Path) -> None:
    module = Tiny()
    model = latentlab.wrap(module, latent_dim=2)
    with pytest.raises(LatentLabError, match="save_weights"):
        latentlab.save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()
    save_weights(model, tmp_path / "w.safetensors")
    fresh = Tiny()
    nn.init.zeros_(fresh.dec.weight)
    fresh.load_state_dict(safetensors.torch.load_file(tmp_path / "w.safetensors"))
    assert torch.equal(fresh.dec.weight, module.dec.weight)
    with pytest.raises(LatentLabError, match="no torch weights"):
        save_weights(ExternalModel(decoder=lambda z: torch.zeros(len(z), 1, 2, 2), latent_dim=2),
                     tmp_path / "none.safetensors")


def test_the_families_of_wrapped_models_can_be_told_apart_from_trainable_ones() -> None:
    from latentlab.core.adapters import is_external_family

    latentlab.wrap(Tiny(), latent_dim=2)
    external = [name for name in registry.names() if is_external_family(name)]
    assert "external" in external and "vae" not in external and not is_external_family("nope")
    forget_external_families()
    assert not any(is_external_family(name) for name in registry.names())


def test_a_latentlab_model_is_used_as_it_is() -> None:
    model = latentlab.load_model(Path(__file__).resolve().parents[2] / "resources" / "models" / "mnist-vae-2d")
    assert latentlab.wrap(model) is model
