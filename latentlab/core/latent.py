"""Latent-space maths: planes, paths, grids, attribute vectors and traversals.

Pure functions over float32 torch tensors; nothing here touches a model, a file or Qt.
A *plane* is the 2-D window the user looks through: a point ``origin`` in the latent
space and two orthonormal directions ``basis``. Plane coordinates ``xy`` map to codes by
``origin + xy @ basis``, so moving on the plane never changes the part of a code that is
off the plane. Planes and their constructors live in :mod:`latentlab.core.latent_plane`
and are re-exported here; paths, grids, attribute vectors and traversals are defined here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.latent_plane import (  # the plane names are re-exported from here
    _DEGENERATE,
    PLANE_KINDS,
    Plane,
    _f32,
    dims_plane,
    pca_plane,
    three_point_plane,
)

__all__ = [
    "PATH_METHODS", "PLANE_KINDS", "Plane", "apply_attribute", "attribute_vector", "class_mean",
    "dims_plane", "lerp", "mean_kl_per_dim", "path_through", "pca_plane", "prior_grid", "slerp",
    "three_point_plane", "tile", "top_kl_dims", "traversal", "view_grid",
]

PATH_METHODS = ("lerp", "slerp")
# Below this angle (radians) two directions are "the same": slerp's sin(omega) would divide by ~0.
_SMALL_ANGLE = 1e-4


# -- paths -----------------------------------------------------------------------------


def _as_t(t: float | torch.Tensor) -> tuple[torch.Tensor, bool]:
    # A vector t becomes a column [T, 1] so it broadcasts against codes [D] into [T, D].
    tt = torch.as_tensor(t, dtype=torch.float64)
    if tt.ndim > 1:
        raise LatentLabError(f"t must be a number or a vector [T], got shape {tuple(tt.shape)}")
    return (tt if tt.ndim == 0 else tt.reshape(-1, 1)), tt.ndim == 0


def _pin_ends(out: torch.Tensor, t: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Float round-off must not move the endpoints: t == 0 is a and t == 1 is b, bit for bit.
    out = torch.where(t == 0, a, out)
    return torch.where(t == 1, b, out)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Straight line ``(1 - t) a + t b``; scalar ``t`` gives ``[D]``, ``t [T]`` gives ``[T, D]``.

    With a scalar ``t``, ``a`` and ``b`` may also be batches ``[N, D]``.
    """
    a32, b32 = _f32(a), _f32(b)
    tt, _ = _as_t(t)
    out = ((1 - tt) * a32.double() + tt * b32.double()).float()
    return _pin_ends(out, tt, a32, b32)


def _perpendicular(u: torch.Tensor) -> torch.Tensor:
    # Any unit vector at right angles to u; the axis where u is smallest keeps it stable.
    e = torch.zeros_like(u)
    e[int(u.abs().argmin())] = 1.0
    p = e - (e @ u) * u
    return p / p.norm()


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical path: the direction turns along the great circle, the norm goes linearly.

    Equal-norm endpoints stay on their sphere. Nearly parallel codes (or a zero code) use
    :func:`lerp`; opposite codes turn through a fixed perpendicular direction.
    """
    a32, b32 = _f32(a), _f32(b)
    if a32.ndim != 1 or a32.shape != b32.shape:
        raise LatentLabError("slerp needs two codes [D] of the same length")
    tt, _ = _as_t(t)
    a64, b64 = a32.double(), b32.double()
    na, nb = a64.norm(), b64.norm()
    tiny = _DEGENERATE * max(float(na), float(nb), 1.0)
    if float(na) <= tiny or float(nb) <= tiny:
        return lerp(a32, b32, t)
    ua, ub = a64 / na, b64 / nb
    cos = float((ua @ ub).clamp(-1.0, 1.0))
    omega = math.acos(cos)
    if omega < _SMALL_ANGLE:
        return lerp(a32, b32, t)
    if math.pi - omega < _SMALL_ANGLE:
        p = _perpendicular(ua)
        direction = torch.cos(math.pi * tt) * ua + torch.sin(math.pi * tt) * p
    else:
        s = math.sin(omega)
        direction = (torch.sin((1 - tt) * omega) * ua + torch.sin(tt * omega) * ub) / s
    norm = (1 - tt) * na + tt * nb
    return _pin_ends((direction * norm).float(), tt, a32, b32)


def path_through(waypoints: torch.Tensor, steps_between: int, method: str = "lerp") -> torch.Tensor:
    """Codes ``[M, D]`` visiting every waypoint once, ``steps_between`` new codes per leg.

    ``M = (K - 1) * (steps_between + 1) + 1`` for ``K`` waypoints.
    """
    w = _f32(waypoints)
    if w.ndim != 2 or w.shape[0] < 1:
        raise LatentLabError(f"a path needs waypoints [K, D] with K >= 1, got shape {tuple(w.shape)}")
    if steps_between < 0:
        raise LatentLabError(f"steps between waypoints must be 0 or more, got {steps_between}")
    if method not in PATH_METHODS:
        raise LatentLabError(f"unknown path method '{method}' (choose from {', '.join(PATH_METHODS)})")
    fn = lerp if method == "lerp" else slerp
    # Each leg includes its start and leaves its end to the next leg, so no waypoint repeats.
    t = torch.linspace(0.0, 1.0, steps_between + 2, dtype=torch.float64)[:-1]
    legs = [fn(w[k], w[k + 1], t) for k in range(w.shape[0] - 1)]
    return torch.cat(legs + [w[-1:]], dim=0)


# -- grids -----------------------------------------------------------------------------


def _axis(lo: float, hi: float, n: int) -> torch.Tensor:
    if n < 1:
        raise LatentLabError(f"a grid needs at least 1 point per side, got {n}")
    if n == 1:
        return torch.tensor([(lo + hi) / 2.0], dtype=torch.float64)
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def _grid_xy(xs: torch.Tensor, ys_top_down: torch.Tensor) -> torch.Tensor:
    yy, xx = torch.meshgrid(ys_top_down, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def view_grid(
    plane: Plane, x_range: tuple[float, float], y_range: tuple[float, float], n_x: int, n_y: int
) -> torch.Tensor:
    """Codes ``[n_y * n_x, D]`` on a regular grid over a plane rectangle, row-major.

    Row 0 is the top (largest y) and column 0 the left (smallest x), so decoded images tile
    straight into a picture. Corner points sit exactly on the range ends; a side with one
    point uses the middle of its range.
    """
    xs = _axis(float(x_range[0]), float(x_range[1]), n_x)
    ys = _axis(float(y_range[1]), float(y_range[0]), n_y)
    return plane.lift(_grid_xy(xs, ys).float())


def prior_grid(
    plane_or_dims: Plane | tuple[int, int], n: int, dim: int | None = None
) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """An ``n x n`` grid at equal prior-probability steps on a plane, row 0 at the top.

    Plane coordinates are ``c + Phi^-1((i + 0.5) / n)`` where ``c`` is where the prior's
    centre (code 0) projects, so each point covers the same prior mass along each axis.
    ``plane_or_dims`` is a :class:`Plane` or a pair of latent dims (a dims plane through 0);
    ``dim`` is required with a pair and, with a plane, checked against it when given.

    Returns
    -------
    codes:
        ``[n * n, D]``.
    extent:
        ``(x_min, x_max, y_min, y_max)``: plane coordinates of the outermost grid points.
    """
    if n < 1:
        raise LatentLabError(f"a grid needs at least 1 point per side, got {n}")
    if isinstance(plane_or_dims, Plane):
        plane = plane_or_dims
    elif dim is None:
        raise LatentLabError("a prior grid over two latent dims needs the latent dimension")
    else:
        plane = dims_plane(*plane_or_dims, dim)
    dim = plane.dim if dim is None else dim
    if plane.dim != dim:
        raise LatentLabError(f"the plane is for {plane.dim} latent dims, the model has {dim}")
    q = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    cx, cy = (float(v) for v in plane.project(torch.zeros(1, dim))[0])
    xs, ys = cx + q, cy + q.flip(0)
    extent = (float(xs[0]), float(xs[-1]), float(ys[-1]), float(ys[0]))
    return plane.lift(_grid_xy(xs, ys).float()), extent


def tile(images: torch.Tensor, n_rows: int, n_cols: int, pad: int = 0, pad_value: float = 1.0) -> torch.Tensor:
    """One mosaic ``[C, H*n_rows + pad*(n_rows-1), W*n_cols + pad*(n_cols-1)]``, row-major.

    Cells past the last image and the ``pad``-pixel gutters are filled with ``pad_value``.
    """
    x = _f32(images)
    if x.ndim != 4:
        raise LatentLabError(f"tiling needs images [N, C, H, W], got shape {tuple(x.shape)}")
    if n_rows < 1 or n_cols < 1 or pad < 0:
        raise LatentLabError("a mosaic needs at least one row and column and a padding of 0 or more")
    n, c, h, w = x.shape
    if n > n_rows * n_cols:
        raise LatentLabError(f"{n} images do not fit a {n_rows} x {n_cols} mosaic")
    out = torch.full((c, h * n_rows + pad * (n_rows - 1), w * n_cols + pad * (n_cols - 1)), float(pad_value))
    for k in range(n):
        r, col = divmod(k, n_cols)
        top, left = r * (h + pad), col * (w + pad)
        out[:, top : top + h, left : left + w] = x[k]
    return out


# -- attribute vectors and traversals --------------------------------------------------


def class_mean(codes: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Mean code ``[D]`` of the items labelled ``k``."""
    z, y = _f32(codes), torch.as_tensor(labels)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise LatentLabError("class means need codes [N, D] and one label per code")
    mask = y == int(k)
    if not bool(mask.any()):
        raise LatentLabError(f"no item has class {k}, so it has no mean code")
    return z[mask].double().mean(dim=0).float()


def attribute_vector(
    codes: torch.Tensor, labels: torch.Tensor, to_class: int, from_class: int | None = None
) -> torch.Tensor:
    """Direction ``[D]`` from ``from_class``'s mean (or the whole set's mean) to ``to_class``'s."""
    target = class_mean(codes, labels, to_class)
    base = _f32(codes).double().mean(dim=0).float() if from_class is None else class_mean(codes, labels, from_class)
    return target - base


def apply_attribute(z: torch.Tensor, vec: torch.Tensor, amount: float) -> torch.Tensor:
    """``z + amount * vec`` for one code ``[D]`` or many ``[N, D]``."""
    return _f32(z) + float(amount) * _f32(vec)


def traversal(
    z: torch.Tensor,
    dims: Sequence[int],
    sigma_range: float = 3.0,
    steps: int = 7,
    scale: torch.Tensor | None = None,
    relative: bool = False,
) -> torch.Tensor:
    """Codes ``[len(dims), steps, D]``: row r sweeps dim ``dims[r]``, the rest stay at ``z``.

    The swept dim takes ``steps`` values from ``-sigma_range * s`` to ``+sigma_range * s``
    where ``s`` is 1 (the prior) or ``scale[d]`` (e.g. the per-dim std of encoded data).
    With ``relative=True`` the sweep is centred on ``z[d]`` instead of 0.
    """
    z32 = _f32(z)
    if z32.ndim != 1:
        raise LatentLabError(f"a traversal starts from one code [D], got shape {tuple(z32.shape)}")
    d = z32.numel()
    if steps < 1:
        raise LatentLabError(f"a traversal needs at least 1 step, got {steps}")
    bad = [k for k in dims if not 0 <= int(k) < d]
    if bad:
        raise LatentLabError(f"latent dims {bad} are out of range (the model has dims 0 to {d - 1})")
    s = torch.ones(d) if scale is None else _f32(scale)
    if s.shape != (d,):
        raise LatentLabError(f"the traversal scale must have one value per latent dim ({d})")
    offsets = _axis(-float(sigma_range), float(sigma_range), steps).float()
    out = z32.repeat(len(dims), steps, 1)
    for r, k in enumerate(int(v) for v in dims):
        centre = z32[k] if relative else 0.0
        out[r, :, k] = centre + offsets * s[k]
    return out


def mean_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean KL(q(z|x) || N(0, 1)) of each latent dim over a batch, ``[D]`` in nats."""
    mu64, lv64 = _f32(mu).double(), _f32(logvar).double()
    return (0.5 * (mu64**2 + lv64.exp() - 1.0 - lv64)).mean(dim=0).float()


def top_kl_dims(kl_per_dim: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` dims with the largest KL, largest first (ties: lower index)."""
    kl = _f32(kl_per_dim).reshape(-1)
    order = torch.sort(kl, descending=True, stable=True).indices
    return [int(i) for i in order[: max(0, int(k))]]
