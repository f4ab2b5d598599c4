"""The off-manifold score: distance ratio, aggregate posterior, kernel density, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentlab.core import offmanifold
from latentlab.core.errors import LatentLabError
from latentlab.core.offmanifold import ManifoldMap, level, log_prior


def _two_clusters(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(n // 2, 2)) * 0.3 - [3.0, 0.0],
                           rng.normal(size=(n // 2, 2)) * 0.3 + [3.0, 0.0]])


def _exact_log_mixture(z: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    d = mu.shape[1]
    out = []
    for row in z:
        log_terms = (-0.5 * np.sum((row - mu) ** 2 / var, axis=1) - 0.5 * np.sum(np.log(var), axis=1)
                     - 0.5 * d * math.log(2 * math.pi))
        out.append(np.logaddexp.reduce(log_terms) - math.log(len(mu)))
    return np.array(out)


def test_codes_in_the_data_are_on_it_and_the_hole_between_clusters_is_off() -> None:
    codes = _two_clusters()
    m = ManifoldMap(codes)
    inside = m.ratios(codes[:50] + 0.01)
    assert np.median(inside) < offmanifold.ON_RATIO
    hole = m.score(np.array([0.0, 0.0]))
    assert hole.level == "off" and hole.ratio > offmanifold.NEAR_RATIO
    # The nearest data code to a point just beside code 7 is code 7.
    assert m.score(codes[7] + 1e-4).nearest == 7
    far = m.score(np.array([40.0, 40.0]))
    assert far.ratio > hole.ratio and far.level == "off"


def test_levels_follow_the_thresholds() -> None:
    assert level(0.5) == "on" and level(offmanifold.ON_RATIO) == "on"
    assert level((offmanifold.ON_RATIO + offmanifold.NEAR_RATIO) / 2) == "near"
    assert level(offmanifold.NEAR_RATIO * 1.01) == "off" and level(float("nan")) == "off"


def test_aggregate_posterior_is_the_exact_mixture_when_there_are_few_codes() -> None:
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(100, 3))
    logvar = rng.normal(scale=0.3, size=(100, 3)) - 1.0
    m = ManifoldMap(mu, logvar)
    z = rng.normal(size=(20, 3))
    np.testing.assert_allclose(m.log_density(z), _exact_log_mixture(z, mu, np.exp(logvar)), rtol=1e-10)
    s = m.score(z[0])
    assert s.log_prior == pytest.approx(float(log_prior(z[:1])[0]))
    assert s.log_density == pytest.approx(float(_exact_log_mixture(z[:1], mu, np.exp(logvar))[0]))


def test_the_nearest_components_give_the_mixture_near_the_data() -> None:
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(3000, 2)) * 2.0
    logvar = np.full_like(mu, math.log(0.05 ** 2))
    m = ManifoldMap(mu, logvar)
    z = mu[:30] + rng.normal(scale=0.05, size=(30, 2))
    np.testing.assert_allclose(m.log_density(z), _exact_log_mixture(z, mu, np.exp(logvar)), atol=1e-6)


def test_without_variances_a_kernel_density_at_the_local_spacing_stands_in() -> None:
    codes = _two_clusters(200)
    m = ManifoldMap(codes)
    h = float(np.median(m.spacing))
    z = np.array([[-3.0, 0.0], [0.0, 0.0], [3.0, 0.2]])
    np.testing.assert_allclose(m.log_density(z), _exact_log_mixture(z, codes, np.full(codes.shape, h * h)),
                               rtol=1e-10)
    assert m.score(z[0]).log_prior is None
    # The hole between the clusters is far less likely than a cluster's centre.
    assert m.log_density(z)[1] < m.log_density(z)[0] - 10


def test_the_prior_is_the_standard_normal() -> None:
    z = np.array([[0.0, 0.0], [1.0, -2.0]])
    np.testing.assert_allclose(log_prior(z), [-math.log(2 * math.pi), -math.log(2 * math.pi) - 2.5])


def test_non_finite_codes_are_left_out_and_indices_still_name_data_items() -> None:
    codes = _two_clusters(100)
    codes[3] = np.nan
    m = ManifoldMap(codes)
    assert len(m) == 99
    assert m.score(codes[60] + 1e-5).nearest == 60


def test_duplicated_codes_do_not_make_the_ratio_infinite() -> None:
    codes = np.concatenate([np.zeros((20, 2)), np.random.default_rng(0).normal(size=(50, 2))])
    s = ManifoldMap(codes).score(np.array([1e-3, 0.0]))
    assert math.isfinite(s.ratio)


@pytest.mark.parametrize("codes, logvar, words", [
    (np.zeros((1, 2)), None, "at least 2 codes"),
    (np.zeros(5), None, "at least 2 codes"),
    (np.full((5, 2), np.nan), None, "finite"),
    (np.zeros((5, 2)), np.zeros((5, 3)), "do not match"),
])
def test_bad_inputs_get_one_clear_error(codes, logvar, words) -> None:
    with pytest.raises(LatentLabError, match=words):
        ManifoldMap(codes, logvar)


def test_a_code_of_the_wrong_size_is_refused() -> None:
    m = ManifoldMap(_two_clusters(50))
    with pytest.raises(LatentLabError, match="2-dimensional"):
        m.score(np.zeros(3))
    with pytest.raises(LatentLabError, match=r"\[M, 2\]"):
        m.ratios(np.zeros((4, 3)))


def test_a_large_latent_is_scanned_and_scores_as_the_tree_would(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(600, 6))
    logvar = rng.normal(scale=0.2, size=(600, 6)) - 2.0
    scanned = ManifoldMap(mu, logvar)
    assert scanned.tree is None
    monkeypatch.setattr(offmanifold, "TREE_MAX_DIM", 6)
    indexed = ManifoldMap(mu, logvar)
    assert indexed.tree is not None
    z = np.concatenate([mu[:5] + 0.01, rng.normal(size=(5, 6)) * 3])
    for row in z:
        a, b = scanned.score(row), indexed.score(row)
        assert a.nearest == b.nearest
        assert a.distance == pytest.approx(b.distance, rel=1e-9)
        # One spacing for all the data: the median of a sample of codes' own spacings.
        assert a.ratio == pytest.approx(a.distance / float(np.median(scanned.spacing)))
        assert a.log_density == pytest.approx(b.log_density, rel=1e-9)
    monkeypatch.setattr(offmanifold, "MIXTURE_K", 600)  # every component: the exact mixture
    np.testing.assert_allclose(scanned.log_density(z), _exact_log_mixture(z, mu, np.exp(logvar)), rtol=1e-9)
    assert scanned.score(mu[42] + 1e-4).nearest == 42
