"""How far a code lies from the data: the off-manifold score shown under the probe.

A decoder answers for every code, but only codes near the encoded data decode to something
like the data; the holes between an autoencoder's codes decode to nonsense. This module
measures that for any code ``z``:

* **Distance ratio**: the distance from ``z`` to the nearest data code, divided by the local
  spacing of the data there (the mean, over ``z``'s nearest data codes, of each one's distance
  to its own :data:`SPACING_K`-th neighbour). Scale-free, so it reads the same for a PCA plane and
  a VAE: well inside the data it is below 1; it grows as ``z`` leaves the data.
  :func:`level` turns it into ``"on"``, ``"near"`` or ``"off"``.
* **Log-densities**: for a variational model, of the aggregate posterior — the mixture of the
  encoder's Gaussians ``N(mu_i, sigma_i^2)`` over the data, ``log (1/N) sum_i N(z; mu_i, sigma_i^2)``
  — and of the prior ``N(0, I)``. For a model without variances, a Gaussian kernel density of
  the codes stands in for the aggregate posterior, its bandwidth the median local spacing of the
  data (a global rule such as Scott's, fitted to the spread of all codes, would paint over the
  very holes between clusters the density is there to show).

:class:`ManifoldMap` indexes the codes for queries fast enough for every probe move. Up to
:data:`TREE_MAX_DIM` dimensions it uses scipy's ``cKDTree`` (built in ``O(N log N)``, with every
code's spacing, on a worker thread); the mixture is then summed over the :data:`MIXTURE_K`
components nearest ``z`` (the rest are many standard deviations away and add nothing
measurable). A k-d tree degrades towards a full scan in more dimensions, so there a query is
a scan (one matrix–vector product over all codes, in float32) for the nearest components,
and the spacing is one number for all the data, the median spacing of a few hundred codes
(finding each code's own neighbours would cost a scan per code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentlab.core.errors import LatentLabError

#: The spacing at a data code is its distance to this many-th nearest other code.
SPACING_K = 8
#: A probe's local spacing averages that of this many nearest data codes.
NEAR_K = 8
#: Mixture components summed per query (the nearest ones).
MIXTURE_K = 256
#: Distance ratios up to these are "on" and "near" the data; above, "off".
ON_RATIO = 1.0
NEAR_RATIO = 2.5
#: Latents up to this size are indexed by a k-d tree; larger ones are scanned.
TREE_MAX_DIM = 4
#: Codes whose spacing sets the one spacing of a scanned (high-dimensional) map.
SPACING_SAMPLE = 256
#: Most codes a map is built over (a bound on memory and build time, ~100 MB of index at D = 64).
MAX_CODES = 2_000_000


@dataclass(frozen=True)
class ManifoldScore:
    """The score of one code; see the module docstring."""

    distance: float         # to the nearest data code
    spacing: float          # the data's local spacing around the code
    ratio: float            # distance / spacing
    level: str              # "on", "near" or "off"
    nearest: int            # index of the nearest data code
    log_density: float      # aggregate posterior (or kernel density) at the code, nats
    log_prior: float | None  # standard normal prior at the code (variational models), else None


def level(ratio: float) -> str:
    """``"on"``, ``"near"`` or ``"off"`` the data for a distance ratio."""
    if not math.isfinite(ratio):
        return "off"
    return "on" if ratio <= ON_RATIO else "near" if ratio <= NEAR_RATIO else "off"


def log_prior(z: np.ndarray) -> np.ndarray:
    """``log N(z; 0, I)`` per row of ``z`` ``[M, D]``."""
    z = np.asarray(z, dtype=np.float64)
    return -0.5 * (np.sum(z * z, axis=1) + z.shape[1] * math.log(2.0 * math.pi))


class ManifoldMap:
    """The data's codes (and, for a variational model, their variances) indexed for scoring.

    ``codes`` ``[N, D]`` are the encoded data (a variational model's means); ``logvar``
    ``[N, D]`` their log-variances, or None for a model without them.
    """

    def __init__(self, codes: np.ndarray, logvar: np.ndarray | None = None) -> None:
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < 1:
            raise LatentLabError(f"an off-manifold map needs at least 2 codes as [N, D], got shape {codes.shape}")
        if codes.shape[0] > MAX_CODES:
            raise LatentLabError(f"an off-manifold map takes at most {MAX_CODES:,} codes, got {codes.shape[0]:,}")
        finite = np.isfinite(codes).all(axis=1)
        if logvar is not None:
            logvar = np.asarray(logvar, dtype=np.float64)
            if logvar.shape != codes.shape:
                raise LatentLabError(f"log-variances {logvar.shape} do not match the codes {codes.shape}")
            finite &= np.isfinite(logvar).all(axis=1)
        self._index = np.flatnonzero(finite)   # map positions back to data indices
        if self._index.size < 2:
            raise LatentLabError("an off-manifold map needs at least 2 finite codes")
        self.codes = codes[self._index]
        self.dim = codes.shape[1]
        n = self.codes.shape[0]
        self.tree = None
        if self.dim <= TREE_MAX_DIM:
            from scipy.spatial import cKDTree

            self.tree = cKDTree(self.codes)
            dist, _ = self.tree.query(self.codes, k=min(SPACING_K + 1, n))
            spacing = dist[:, -1]
        else:
            self._c32 = self.codes.astype(np.float32)
            self._sq = np.sum(self.codes * self.codes, axis=1)
            self._sq32 = self._sq.astype(np.float32)
            sample = np.random.default_rng(0).choice(n, size=min(n, SPACING_SAMPLE), replace=False)
            spacing = np.full(n, float(np.median(self._scan_spacing(sample))))
        # Duplicated codes would give a spacing of 0 and an infinite ratio next to them.
        floor = max(float(np.median(spacing)) * 1e-3, 1e-12)
        self.spacing = np.maximum(spacing, floor)
        self.variational = logvar is not None
        if self.variational:
            self._var = np.exp(logvar[self._index])
            self._norm = -0.5 * (np.sum(logvar[self._index], axis=1) + self.dim * math.log(2.0 * math.pi))
        else:
            h2 = float(np.median(self.spacing)) ** 2
            self._var = np.full(self.codes.shape, h2)
            self._norm = np.full(n, -0.5 * self.dim * (math.log(h2) + math.log(2.0 * math.pi)))
        self._log_n = math.log(self.codes.shape[0])

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def score(self, z: np.ndarray) -> ManifoldScore:
        """The score of one code ``z`` ``[D]``."""
        z = np.asarray(z, dtype=np.float64).reshape(1, -1)
        ratio, distance, spacing, nearest, log_q = self._scores(z)
        return ManifoldScore(distance=float(distance[0]), spacing=float(spacing[0]), ratio=float(ratio[0]),
                             level=level(float(ratio[0])), nearest=int(nearest[0]), log_density=float(log_q[0]),
                             log_prior=float(log_prior(z)[0]) if self.variational else None)

    def ratios(self, z: np.ndarray) -> np.ndarray:
        """Distance ratios of many codes ``[M, D]`` (for paths and benchmarks)."""
        return self._scores(self._check(z))[0]

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """Aggregate-posterior (or kernel) log-density of many codes ``[M, D]``, e.g. an overlay grid."""
        return self._scores(self._check(z))[4]

    def _check(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise LatentLabError(f"codes to score must be [M, {self.dim}], got shape {z.shape}")
        return z

    def _scores(self, z: np.ndarray):
        if z.shape[1] != self.dim:
            raise LatentLabError(f"a {z.shape[1]}-dimensional code cannot be scored against {self.dim}-dimensional data")
        if self.tree is None:
            return self._scan_scores(z)
        n = self.codes.shape[0]
        k = min(max(NEAR_K, MIXTURE_K), n)
        dist, idx = self.tree.query(z, k=k)
        dist, idx = dist.reshape(z.shape[0], k), idx.reshape(z.shape[0], k)
        spacing = self.spacing[idx[:, :min(NEAR_K, k)]].mean(axis=1)
        ratio = dist[:, 0] / spacing
        # The mixture over the k nearest components: log (1/N) sum_j N(z; mu_j, var_j).
        diff = z[:, None, :] - self.codes[idx]
        log_terms = self._norm[idx] - 0.5 * np.sum(diff * diff / self._var[idx], axis=2)
        return ratio, dist[:, 0], spacing, self._index[idx[:, 0]], _log_sum_exp(log_terms) - self._log_n

    def _scan_scores(self, z: np.ndarray):
        """Scores by a scan over every code (latents above :data:`TREE_MAX_DIM` dimensions)."""
        n = self.codes.shape[0]
        k = min(max(NEAR_K, MIXTURE_K), n)
        ratio, distance, spacing, nearest, log_q = (np.empty(z.shape[0]) for _ in range(5))
        for row, code in enumerate(z):
            c32 = code.astype(np.float32)
            d2 = self._sq32 - 2.0 * (self._c32 @ c32) + float(c32 @ c32)
            idx = np.argpartition(d2, k - 1)[:k] if k < n else np.arange(n)
            # The float32 scan picks the candidates; their distances are taken again in float64.
            diff = code - self.codes[idx]
            exact = np.sum(diff * diff, axis=1)
            order = np.argsort(exact)
            idx, diff = idx[order], diff[order]
            distance[row] = math.sqrt(float(exact[order[0]]))
            spacing[row] = self.spacing[idx[:NEAR_K]].mean()
            ratio[row] = distance[row] / spacing[row]
            nearest[row] = idx[0]
            # The mixture over the k nearest components, as the tree does.
            log_terms = self._norm[idx] - 0.5 * np.sum(diff * diff / self._var[idx], axis=1)
            log_q[row] = _log_sum_exp(log_terms[None, :])[0] - self._log_n
        return ratio, distance, spacing, self._index[nearest.astype(np.int64)], log_q

    def _scan_spacing(self, members: np.ndarray) -> np.ndarray:
        """Each member code's distance to its :data:`SPACING_K`-th nearest other code, by a scan."""
        block = self.codes[members].astype(np.float32)
        d2 = self._sq[None, :] - 2.0 * (block @ self._c32.T) + self._sq[members][:, None]
        k = min(SPACING_K, self.codes.shape[0] - 1)
        # Index k of the sorted row is the k-th nearest other code (index 0 is the code itself).
        return np.sqrt(np.maximum(np.partition(d2, k, axis=1)[:, k], 0.0))


def _log_sum_exp(log_terms: np.ndarray) -> np.ndarray:
    """``log sum exp`` along rows, without overflow."""
    top = log_terms.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(log_terms - top).sum(axis=1))
