"""Generated data sets: moons and shapes really show the factors they report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core.data import load_dataset
from latentlab.core.data.procedural import MOON_PHASE_NAMES, SHAPE_NAMES, make_moons, make_shapes


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.double().numpy(), b.double().numpy())[0, 1])


def centroids(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Brightness-weighted centre of each image: (x to the right, row downwards)."""
    size = images.shape[-1]
    coord = torch.arange(size, dtype=torch.float32)
    mass = images[:, 0].sum(dim=(1, 2)).clamp_min(1e-6)
    cx = (images[:, 0].sum(dim=1) * coord).sum(dim=1) / mass
    cy = (images[:, 0].sum(dim=2) * coord).sum(dim=1) / mass
    return cx, cy


@pytest.fixture(scope="module")
def moons():
    return make_moons(n=2000)


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(n=2000)


def test_default_moons_have_documented_layout():
    ds = load_dataset("moons")
    assert ds.images.shape == (10_000, 1, 28, 28) and ds.images.dtype == torch.float32
    assert 0.0 <= float(ds.images.min()) and float(ds.images.max()) <= 1.0
    assert ds.factors.shape == (10_000, 3)
    assert ds.factor_names == ("phase", "rotation_cos", "rotation_sin")
    assert ds.class_names == MOON_PHASE_NAMES
    assert torch.bincount(ds.labels, minlength=5).min() > 500


def test_moon_brightness_follows_phase(moons):
    brightness = moons.images.mean(dim=(1, 2, 3))
    assert corr(brightness, moons.factors[:, 0]) > 0.95


def test_moon_phase_classes_follow_phase(moons):
    phase = moons.factors[:, 0]
    means = [float(phase[moons.labels == k].mean()) for k in range(len(MOON_PHASE_NAMES))]
    assert means == sorted(means)
    assert float(phase[moons.labels == 0].max()) < float(phase[moons.labels == 4].min())


def test_moon_lit_side_faces_the_rotation(moons):
    # Half-lit moons: the light's centre of mass sits on the side the angle points to.
    phase = moons.factors[:, 0]
    keep = (phase > 0.2) & (phase < 0.8)
    cx, cy = centroids(moons.images[keep])
    cos, sin = moons.factors[keep, 1], moons.factors[keep, 2]
    assert corr(cx, cos) > 0.8
    assert corr(-cy, sin) > 0.8  # rows grow downwards, the angle counts upwards
    assert torch.allclose(cos**2 + sin**2, torch.ones_like(cos), atol=1e-5)


def test_shapes_have_documented_layout(shapes):
    assert shapes.images.shape == (2000, 1, 28, 28)
    assert shapes.class_names == SHAPE_NAMES
    assert shapes.factor_names == ("scale", "rotation_cos", "rotation_sin", "x", "y")
    counts = torch.bincount(shapes.labels, minlength=4)
    assert int(counts.min()) > 400
    f = shapes.factors
    assert float(f[:, 0].min()) >= 0.5 and float(f[:, 0].max()) <= 1.0
    assert float(f[:, 3:].min()) >= 0.0 and float(f[:, 3:].max()) <= 1.0


def test_shape_position_and_scale_show_in_the_image(shapes):
    cx, cy = centroids(shapes.images)
    assert corr(cx, shapes.factors[:, 3]) > 0.95
    assert corr(cy, shapes.factors[:, 4]) > 0.95
    ink = shapes.images.sum(dim=(1, 2, 3))
    for k in range(len(SHAPE_NAMES)):
        mine = shapes.labels == k
        assert corr(ink[mine], shapes.factors[mine, 0] ** 2) > 0.9


def test_ellipse_orientation_follows_rotation(shapes):
    ellipses = shapes.labels == SHAPE_NAMES.index("ellipse")
    images = shapes.images[ellipses, 0].double()
    size = images.shape[-1]
    xs = torch.arange(size, dtype=torch.float64)
    mass = images.sum(dim=(1, 2))
    cx = (images.sum(dim=1) * xs).sum(dim=1) / mass
    cy = (images.sum(dim=2) * xs).sum(dim=1) / mass
    dx = xs[None, None, :] - cx[:, None, None]
    dy = -(xs[None, :, None] - cy[:, None, None])  # y up
    mxx = (images * dx * dx).sum(dim=(1, 2))
    myy = (images * dy * dy).sum(dim=(1, 2))
    mxy = (images * dx * dy).sum(dim=(1, 2))
    measured = torch.atan2(2 * mxy, mxx - myy)  # twice the long axis angle
    c, s = shapes.factors[ellipses, 1].double(), shapes.factors[ellipses, 2].double()
    assert corr(torch.cos(measured), c * c - s * s) > 0.9
    assert corr(torch.sin(measured), 2 * c * s) > 0.9


def test_shape_edges_are_antialiased(shapes):
    partial = ((shapes.images > 0.1) & (shapes.images < 0.9)).sum(dim=(1, 2, 3))
    assert int(partial.min()) > 0


@pytest.mark.parametrize("make", [make_moons, make_shapes])
def test_generation_is_seeded_and_prefix_stable(make):
    a, b, c = make(n=40, seed=5), make(n=40, seed=5), make(n=40, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.images, c.images)
    head = make(n=15, seed=5)
    assert torch.equal(head.images, a.images[:15]) and torch.equal(head.labels, a.labels[:15])


@pytest.mark.parametrize("name", ["moons", "shapes"])
def test_image_size_renders_at_that_size(name):
    ds = load_dataset(name, image_size=48, limit=30, seed=2)
    assert ds.images.shape == (30, 1, 48, 48)
    assert ds.source == {"kind": name, "n": 30, "size": 48, "seed": 2}
    assert load_dataset(ds.source).fingerprint == ds.fingerprint
