"""Latent planes: the 2-D windows the user looks through, and the ways to make one.

A *plane* is a point ``origin`` in the latent space and two orthonormal directions
``basis``. Plane coordinates ``xy`` map to codes by ``origin + xy @ basis``, so moving on
the plane never changes the part of a code that is off the plane. A plane is made from
two latent dims, from the codes' main directions of spread (PCA) or through three anchor
codes. Pure functions over float32 torch tensors, re-exported by :mod:`latentlab.core.latent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from latentlab.core.errors import LatentLabError

PLANE_KINDS = ("pca", "dims", "points")
# Relative size under which a vector counts as zero (degenerate planes, zero-norm codes).
_DEGENERATE = 1e-6


def _f32(x: Any) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32).detach().cpu()


@dataclass(frozen=True, eq=False)
class Plane:
    """A 2-D affine window into a D-dimensional latent space.

    Parameters
    ----------
    origin:
        ``[D]`` code at plane coordinates (0, 0).
    basis:
        ``[2, D]`` orthonormal rows (x axis, y axis). For ``D == 1`` the second row is
        zero: the plane is the one latent axis and the y coordinate has no effect.
    kind:
        How the plane was made: ``"pca"``, ``"dims"`` or ``"points"``.
    meta:
        JSON-able details (chosen dims, explained variance, anchor coordinates).
    """

    origin: torch.Tensor
    basis: torch.Tensor
    kind: str = "dims"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Own copies: a caller changing its tensor later must not move the plane.
        origin, basis = _f32(self.origin).clone(), _f32(self.basis).clone()
        if origin.ndim != 1 or origin.numel() < 1:
            raise LatentLabError(f"a plane's origin must be a vector [D], got shape {tuple(origin.shape)}")
        d = origin.numel()
        if tuple(basis.shape) != (2, d):
            raise LatentLabError(f"a plane's basis must have shape [2, {d}], got {tuple(basis.shape)}")
        if not (torch.isfinite(origin).all() and torch.isfinite(basis).all()):
            raise LatentLabError("a plane's origin and basis must be finite numbers")
        if self.kind not in PLANE_KINDS:
            raise LatentLabError(f"unknown plane kind '{self.kind}' (choose from {', '.join(PLANE_KINDS)})")
        expected = torch.diag(torch.tensor([1.0, 1.0 if d > 1 else 0.0], dtype=torch.float64))
        if not torch.allclose(basis.double() @ basis.double().T, expected, atol=1e-4):
            raise LatentLabError("a plane's basis rows must be orthonormal (unit length, at right angles)")
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def dim(self) -> int:
        """Latent dimension D."""
        return int(self.origin.numel())

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Plane coordinates ``[N, 2]`` of codes ``[N, D]`` (orthogonal projection)."""
        return (_f32(z) - self.origin) @ self.basis.T

    def lift(self, xy: torch.Tensor) -> torch.Tensor:
        """Codes ``[N, D]`` at plane coordinates ``[N, 2]``; the off-plane part is the origin's."""
        return self.origin + _f32(xy) @ self.basis

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lists of floats)."""
        return {"kind": self.kind, "origin": self.origin.tolist(), "basis": self.basis.tolist(),
                "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plane:
        """Rebuild a plane written by :meth:`to_dict`; a malformed one raises LatentLabError."""
        if not isinstance(d, dict) or not {"origin", "basis"} <= set(d):
            raise LatentLabError("a saved plane needs 'origin' and 'basis'")
        meta = d.get("meta", {})
        if not isinstance(meta, dict):
            raise LatentLabError("a saved plane's 'meta' must be an object")
        try:
            origin = torch.tensor(d["origin"], dtype=torch.float32)
            basis = torch.tensor(d["basis"], dtype=torch.float32)
        except (TypeError, ValueError, OverflowError) as exc:  # Overflow: a huge JSON integer
            raise LatentLabError(f"a saved plane's origin and basis must be lists of numbers ({exc})") from None
        return cls(origin=origin, basis=basis, kind=str(d.get("kind", "dims")), meta=meta)


def dims_plane(i: int, j: int, dim: int, origin: torch.Tensor | None = None) -> Plane:
    """The plane spanned by latent axes ``i`` (x) and ``j`` (y), through ``origin`` (default 0)."""
    if dim < 2:
        raise LatentLabError(f"choosing two latent dimensions needs at least 2, the model has {dim}")
    for name, k in (("x", i), ("y", j)):
        if not 0 <= k < dim:
            raise LatentLabError(f"{name} dimension {k} is out of range (the model has dims 0 to {dim - 1})")
    if i == j:
        raise LatentLabError(f"the x and y dimensions must differ, both are {i}")
    basis = torch.zeros(2, dim)
    basis[0, i] = 1.0
    basis[1, j] = 1.0
    o = torch.zeros(dim) if origin is None else _f32(origin)
    return Plane(origin=o, basis=basis, kind="dims", meta={"i": int(i), "j": int(j)})


def _fix_sign(rows: torch.Tensor) -> torch.Tensor:
    # An eigenvector's sign is arbitrary; pin it so the same data always gives the same view.
    idx = rows.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(rows.gather(1, idx))
    signs[signs == 0] = 1.0
    return rows * signs


def _complete_basis(rows: torch.Tensor, dim: int, want: int = 2) -> torch.Tensor:
    """Extend orthonormal ``rows`` to ``want`` rows with standard axes (Gram-Schmidt)."""
    out = [r for r in rows[:want]]
    for k in range(dim):
        if len(out) >= want:
            break
        v = torch.zeros(dim, dtype=rows.dtype)
        v[k] = 1.0
        for r in out:
            v = v - (v @ r) * r
        if v.norm() > 1e-3:
            out.append(v / v.norm())
    return torch.stack(out)


def pca_plane(codes: torch.Tensor) -> Plane:
    """The plane through the codes' mean along their two main directions of spread.

    For ``D == 2`` this is the plain dims plane (x = z0, y = z1, origin 0): rotating a 2-D
    latent space would only confuse. For ``D == 1`` the plane is the one axis through the
    mean with a zero second axis. Directions with no spread (fewer than 3 distinct codes)
    are filled with standard axes. ``meta["explained"]`` holds each axis's variance share.
    """
    z = _f32(codes)
    if z.ndim != 2 or z.shape[0] < 1:
        raise LatentLabError(f"a PCA plane needs codes [N, D] with N >= 1, got shape {tuple(z.shape)}")
    dim = z.shape[1]
    if dim == 2:
        return dims_plane(0, 1, 2)
    mean = z.double().mean(dim=0)
    if dim == 1:
        basis = torch.tensor([[1.0], [0.0]])
        return Plane(origin=mean, basis=basis, kind="pca", meta={"explained": [1.0, 0.0]})
    centred = z.double() - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    var = s**2
    total = float(var.sum())
    keep = int((s > s.max() * _DEGENERATE).sum()) if total > 0 else 0
    basis = _fix_sign(_complete_basis(vh[: min(keep, 2)], dim))
    explained = [float(var[k]) / total if total > 0 and k < keep else 0.0 for k in range(2)]
    return Plane(origin=mean, basis=basis, kind="pca", meta={"explained": explained})


def three_point_plane(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> Plane:
    """The plane through codes ``a`` (the origin), ``b`` (on the +x axis) and ``c`` (y > 0).

    ``meta["anchors_xy"]`` holds the plane coordinates of a, b and c.
    """
    a64, b64, c64 = (_f32(v).double() for v in (a, b, c))
    if not (a64.ndim == b64.ndim == c64.ndim == 1 and a64.shape == b64.shape == c64.shape):
        raise LatentLabError("the three anchor codes must be vectors of the same length")
    u, v = b64 - a64, c64 - a64
    scale = max(float(u.norm()), float(v.norm()), float(a64.norm()), 1.0)
    if float(u.norm()) <= _DEGENERATE * scale:
        raise LatentLabError("the first two anchor points are the same code: pick three different points")
    e1 = u / u.norm()
    w = v - (v @ e1) * e1
    if float(w.norm()) <= _DEGENERATE * scale:
        raise LatentLabError("the three anchor points lie on one line: pick a third point off that line")
    e2 = w / w.norm()
    anchors = [[0.0, 0.0], [float(u.norm()), 0.0], [float(v @ e1), float(w.norm())]]
    return Plane(origin=a64, basis=torch.stack([e1, e2]), kind="points", meta={"anchors_xy": anchors})
