"""One inference path for every face: compatibility, chunked encoding, decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core import inference
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model

SMALL = (1, 8, 8)


def data(n: int = 40, labels: bool = True, shape=SMALL, classes: int = 3) -> Dataset:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, *shape, generator=g)
    y = torch.arange(n) % classes if labels else None
    names = tuple(str(k) for k in range(classes)) if labels else ()
    return Dataset(name="toy", images=images, labels=y, class_names=names)


def model(family: str = "vae", classes: int = 0):
    torch.manual_seed(0)
    return build_model(ModelConfig(family=family, input_shape=SMALL, latent_dim=3, hidden=(16,),
                                   num_classes=classes)).eval()


def test_a_model_fits_data_of_its_shape_only() -> None:
    m = model()
    assert inference.fits(m.config, data())
    assert not inference.fits(m.config, data(shape=(1, 9, 9)))
    assert not inference.fits(m.config, None)
    with pytest.raises(LatentLabError, match="expects items of shape 1×8×8.*has 1×9×9"):
        inference.check_compatible(m.config, data(shape=(1, 9, 9)))


def test_a_conditional_model_needs_labels_within_its_classes() -> None:
    cvae = model("cvae", classes=3)
    assert inference.fits(cvae.config, data(classes=3))
    with pytest.raises(LatentLabError, match="needs class labels"):
        inference.check_compatible(cvae.config, data(labels=False))
    with pytest.raises(LatentLabError, match="labels outside 0..2"):
        inference.check_compatible(cvae.config, data(classes=5))


def test_encode_dataset_matches_the_encoder_means_chunk_by_chunk() -> None:
    m, d = model("cvae", classes=3), data()
    seen: list[tuple[int, int]] = []
    codes = inference.encode_dataset(m, d, chunk=16, progress=lambda done, total: seen.append((done, total)))
    with torch.no_grad():
        mu, _ = m.encode(d.images, d.labels)
    np.testing.assert_allclose(codes, mu.numpy(), rtol=1e-5, atol=1e-6)
    assert seen == [(16, 40), (32, 40), (40, 40)]
    assert codes.dtype == np.float32 and codes.shape == (40, 3)


def test_encode_dataset_stops_between_chunks_when_asked() -> None:
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 1   # let the first chunk run, then stop

    assert inference.encode_dataset(model(), data(), chunk=8, should_stop=should_stop) is None
    assert len(asked) == 2


def test_encode_dataset_refuses_data_the_model_cannot_take() -> None:
    with pytest.raises(LatentLabError):
        inference.encode_dataset(model(), data(shape=(3, 8, 8)))


def test_decode_gives_images_in_the_unit_range_and_needs_a_class_for_a_cvae() -> None:
    z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * 3
    out = inference.decode(model(), z)
    assert out.shape == (5, *SMALL) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert inference.decode(model(), z[0]).shape == (1, *SMALL)   # one code -> a batch of one
    cvae = model("cvae", classes=3)
    with pytest.raises(LatentLabError, match="needs a class"):
        inference.decode(cvae, z)
    a, b = inference.decode(cvae, z, 0), inference.decode(cvae, z, 2)
    assert not torch.allclose(a, b)   # the condition reaches the decoder
    per_code = inference.decode(cvae, z[:2], np.array([0, 2]))
    torch.testing.assert_close(per_code[0], a[0])
    torch.testing.assert_close(per_code[1], b[1])


def test_encode_of_a_few_items_uses_one_class_for_all_or_one_each() -> None:
    cvae, d = model("cvae", classes=3), data()
    each = inference.encode(cvae, d.images[:4], d.labels[:4])
    with torch.no_grad():
        mu, _ = cvae.encode(d.images[:4], d.labels[:4])
    np.testing.assert_allclose(each, mu.numpy(), rtol=1e-5, atol=1e-6)
    same = inference.encode(cvae, d.images[:4].numpy(), 1)
    assert not np.allclose(same, each)


def test_model_from_state_rebuilds_an_equal_model_in_eval_mode() -> None:
    m = model()
    copy = inference.model_from_state(m.config, m.state_dict())
    assert not copy.training
    z = torch.zeros(2, 3)
    torch.testing.assert_close(inference.decode(copy, z), inference.decode(m, z))


def test_read_only_arrays_are_taken_without_a_warning() -> None:
    z = np.zeros((2, 3), np.float32)
    z.setflags(write=False)   # e.g. the probe's code, a frozen state value
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = inference.decode(model(), z)
    assert out.shape == (2, *SMALL)
    images = out.numpy()
    images.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert inference.encode(model(), images).shape == (2, 3)
