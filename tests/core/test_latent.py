"""Latent-space maths: planes, paths, grids, attribute vectors, traversals."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import (
    Plane,
    apply_attribute,
    attribute_vector,
    class_mean,
    dims_plane,
    lerp,
    mean_kl_per_dim,
    path_through,
    pca_plane,
    prior_grid,
    slerp,
    three_point_plane,
    tile,
    top_kl_dims,
    traversal,
    view_grid,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- paths -----------------------------------------------------------------------------


def test_lerp_midpoint_and_vector_t() -> None:
    a, b = torch.tensor([1.0, -2.0, 4.0]), torch.tensor([3.0, 2.0, 0.0])
    assert torch.allclose(lerp(a, b, 0.5), torch.tensor([2.0, 0.0, 2.0]))
    out = lerp(a, b, torch.tensor([0.0, 0.25, 1.0]))
    assert out.shape == (3, 3)
    assert torch.allclose(out[1], a + 0.25 * (b - a))


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_endpoints_are_exact(fn) -> None:
    a = torch.randn(16, generator=_gen(1)) * 3.7
    b = torch.randn(16, generator=_gen(2)) * 0.3
    out = fn(a, b, torch.linspace(0, 1, 9))
    assert torch.equal(out[0], a) and torch.equal(out[-1], b)
    assert torch.equal(fn(a, b, 0.0), a) and torch.equal(fn(a, b, 1.0), b)


def test_slerp_keeps_norm_between_equal_norm_endpoints() -> None:
    a = torch.randn(32, generator=_gen(3))
    b = torch.randn(32, generator=_gen(4))
    b = b / b.norm() * a.norm()
    out = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(out.norm(dim=1), a.norm().expand(11), rtol=1e-5)
    # And it is not the straight line, whose midpoint is shorter.
    assert lerp(a, b, 0.5).norm() < out[5].norm() - 1e-3


def test_slerp_quarter_turn_is_on_the_circle() -> None:
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([math.sqrt(2.0), math.sqrt(2.0)]), atol=1e-6)


def test_slerp_falls_back_to_lerp_for_parallel_codes() -> None:
    a = torch.tensor([1.0, 1.0, 0.0])
    t = torch.tensor([0.0, 0.3, 0.7, 1.0])
    assert torch.allclose(slerp(a, 3 * a, t), lerp(a, 3 * a, t))
    zero = torch.zeros(3)
    assert torch.allclose(slerp(zero, a, t), lerp(zero, a, t))


def test_slerp_antipodal_codes_turn_through_a_perpendicular() -> None:
    a = torch.tensor([0.0, 2.0, 0.0])
    out = slerp(a, -a, torch.linspace(0, 1, 5))
    assert torch.isfinite(out).all()
    assert torch.allclose(out.norm(dim=1), torch.full((5,), 2.0), atol=1e-5)
    assert float(out[2] @ a) == pytest.approx(0.0, abs=1e-5)


def test_path_through_visits_each_waypoint_once() -> None:
    w = torch.randn(4, 5, generator=_gen(5))
    for method in ("lerp", "slerp"):
        p = path_through(w, steps_between=3, method=method)
        assert p.shape == (3 * 4 + 1, 5)
        for k in range(4):
            hits = (p == w[k]).all(dim=1).nonzero().flatten().tolist()
            assert hits == [4 * k]


def test_path_through_single_waypoint_and_errors() -> None:
    w = torch.ones(1, 3)
    assert torch.equal(path_through(w, 5), w)
    with pytest.raises(LatentLabError, match="method"):
        path_through(torch.ones(2, 3), 2, method="cubic")
    with pytest.raises(LatentLabError, match="steps"):
        path_through(torch.ones(2, 3), -1)


# -- planes ----------------------------------------------------------------------------


def _subspace_data(n: int = 200, dim: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes in a known 2-D affine subspace: mean + s1*u1 + s2*u2 with var(s1) > var(s2)."""
    q, _ = torch.linalg.qr(torch.randn(dim, 2, generator=_gen(6)))
    basis = q.T
    coeff = torch.randn(n, 2, generator=_gen(7)) * torch.tensor([3.0, 1.0])
    centre = torch.linspace(-1, 1, dim)
    return centre + coeff @ basis, basis, centre


def test_pca_plane_recovers_a_known_subspace() -> None:
    codes, basis, _ = _subspace_data()
    plane = pca_plane(codes)
    assert plane.kind == "pca"
    assert torch.allclose(plane.origin, codes.mean(dim=0), atol=1e-5)
    # Same span: projecting the true basis onto the found one loses nothing.
    overlap = basis @ plane.basis.T
    assert torch.allclose(torch.linalg.svdvals(overlap), torch.ones(2), atol=1e-4)
    # The wider direction (std 3) comes first.
    assert float(overlap[0, 0].abs()) == pytest.approx(1.0, abs=1e-2)
    # Larger spread first, and the ratios add to 1 because nothing is off-plane.
    assert plane.meta["explained"][0] > plane.meta["explained"][1]
    assert sum(plane.meta["explained"]) == pytest.approx(1.0, abs=1e-5)
    # In-plane codes survive project -> lift.
    assert torch.allclose(plane.lift(plane.project(codes)), codes, atol=1e-4)


def test_pca_plane_sign_is_deterministic() -> None:
    codes, _, _ = _subspace_data()
    for row in (pca_plane(codes).basis, pca_plane(-codes).basis):
        for r in row:
            assert r[r.abs().argmax()] > 0


def test_lift_keeps_the_off_plane_part_at_the_origin() -> None:
    origin = torch.tensor([0.5, -1.0, 2.0, 3.0])
    plane = dims_plane(0, 2, 4, origin=origin)
    z = plane.lift(torch.tensor([[7.0, -4.0]]))[0]
    assert torch.equal(z, torch.tensor([7.5, -1.0, -2.0, 3.0]))
    assert torch.allclose(plane.project(z[None]), torch.tensor([[7.0, -4.0]]))


def test_pca_plane_small_dimensions() -> None:
    two = torch.randn(50, 2, generator=_gen(8)) + 5.0
    p2 = pca_plane(two)
    assert torch.equal(p2.basis, torch.eye(2)) and torch.equal(p2.origin, torch.zeros(2))
    one = torch.tensor([[1.0], [3.0]])
    p1 = pca_plane(one)
    assert torch.allclose(p1.project(torch.tensor([[4.0]])), torch.tensor([[2.0, 0.0]]))
    assert torch.allclose(p1.lift(torch.tensor([[1.0, 9.0]])), torch.tensor([[3.0]]))


def test_pca_plane_of_collinear_codes_still_has_two_orthonormal_axes() -> None:
    line = torch.linspace(0, 1, 10)[:, None] * torch.tensor([[1.0, 2.0, 2.0]])
    p = pca_plane(line)
    assert torch.allclose(p.basis @ p.basis.T, torch.eye(2), atol=1e-5)
    assert p.meta["explained"] == pytest.approx([1.0, 0.0], abs=1e-6)


def test_three_point_plane_contains_its_anchors() -> None:
    a, b, c = (torch.randn(5, generator=_gen(s)) for s in (9, 10, 11))
    plane = three_point_plane(a, b, c)
    pts = torch.stack([a, b, c])
    xy = plane.project(pts)
    assert torch.allclose(plane.lift(xy), pts, atol=1e-5)
    assert torch.allclose(xy, torch.tensor(plane.meta["anchors_xy"]), atol=1e-5)
    assert xy[1, 1].abs() < 1e-5 and xy[1, 0] > 0 and xy[2, 1] > 0


@pytest.mark.parametrize(
    "b, c",
    [
        ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]),  # collinear with a
        ([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]),  # b equals a
        ([1.0, 0.0, 0.0], [1.0, 0.0, 0.0]),  # c equals b
    ],
)
def test_three_point_plane_rejects_degenerate_points(b, c) -> None:
    with pytest.raises(LatentLabError):
        three_point_plane(torch.zeros(3), torch.tensor(b), torch.tensor(c))


def test_plane_dict_round_trip_and_bad_planes() -> None:
    codes, _, _ = _subspace_data()
    plane = pca_plane(codes)
    back = Plane.from_dict(plane.to_dict())
    assert torch.equal(back.origin, plane.origin) and torch.equal(back.basis, plane.basis)
    assert back.kind == "pca" and back.meta == plane.meta
    with pytest.raises(LatentLabError, match="orthonormal"):
        Plane(origin=torch.zeros(3), basis=torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))
    with pytest.raises(LatentLabError, match="basis"):
        Plane.from_dict({"origin": [0, 0], "basis": [[1, 0]]})
    with pytest.raises(LatentLabError):
        Plane.from_dict({"origin": "nope", "basis": [[1, 0], [0, 1]]})


def test_dims_plane_rejects_bad_dims() -> None:
    for i, j, d in ((0, 0, 3), (0, 3, 3), (-1, 1, 3), (0, 1, 1)):
        with pytest.raises(LatentLabError):
            dims_plane(i, j, d)


# -- grids -----------------------------------------------------------------------------


def test_view_grid_corners_and_row_major_top_down_order() -> None:
    plane = dims_plane(1, 2, 3)
    codes = view_grid(plane, (-2.0, 4.0), (-1.0, 1.0), n_x=4, n_y=3)
    assert codes.shape == (12, 3)
    xy = codes[:, 1:].reshape(3, 4, 2)
    assert torch.equal(xy[0, 0], torch.tensor([-2.0, 1.0]))   # top-left
    assert torch.equal(xy[0, -1], torch.tensor([4.0, 1.0]))   # top-right
    assert torch.equal(xy[-1, 0], torch.tensor([-2.0, -1.0]))  # bottom-left
    assert torch.equal(xy[-1, -1], torch.tensor([4.0, -1.0]))  # bottom-right
    assert (xy[:, 1:, 0] > xy[:, :-1, 0]).all()  # x grows along a row
    assert (xy[1:, :, 1] < xy[:-1, :, 1]).all()  # y falls down the rows
    assert (codes[:, 0] == 0).all()


def test_prior_grid_uses_inverse_normal_cdf_and_is_symmetric() -> None:
    codes, extent = prior_grid((0, 2), n=5, dim=3)
    xy = codes[:, [0, 2]].reshape(5, 5, 2)
    expected = torch.special.ndtri((torch.arange(5, dtype=torch.float64) + 0.5) / 5).float()
    assert torch.allclose(xy[0, :, 0], expected)
    assert torch.allclose(xy[:, 0, 1], expected.flip(0))
    assert torch.allclose(xy[0, :, 0], -xy[0, :, 0].flip(0))  # symmetric about 0
    assert xy[2, 2].abs().max() < 1e-6
    assert extent == pytest.approx((float(expected[0]), float(expected[-1])) * 2)
    assert (codes[:, 1] == 0).all()


def test_prior_grid_on_a_shifted_plane_centres_on_the_prior() -> None:
    plane = dims_plane(0, 1, 2, origin=torch.tensor([1.0, -2.0]))
    codes, extent = prior_grid(plane, n=3)
    assert torch.allclose(codes[4], torch.zeros(2), atol=1e-6)
    assert extent[0] == pytest.approx(-extent[1] - 2.0)  # x centre at -1 in plane coordinates
    with pytest.raises(LatentLabError):
        prior_grid(plane, n=3, dim=4)


def test_tile_places_images_row_major_with_gutters() -> None:
    imgs = torch.arange(5, dtype=torch.float32).view(5, 1, 1, 1).expand(5, 1, 2, 3) / 10
    out = tile(imgs, n_rows=2, n_cols=3, pad=1, pad_value=1.0)
    assert out.shape == (1, 2 * 2 + 1, 3 * 3 + 2)
    assert torch.all(out[0, 0:2, 4:7] == 0.1)  # image 1: row 0, column 1
    assert torch.all(out[0, 3:5, 4:7] == 0.4)  # image 4: row 1, column 1
    assert torch.all(out[0, 2, :] == 1.0)      # gutter
    assert torch.all(out[0, 3:5, 8:11] == 1.0)  # the empty sixth cell
    with pytest.raises(LatentLabError):
        tile(imgs, 1, 2)


# -- attributes and traversals ----------------------------------------------------------


def test_attribute_vector_between_two_clusters() -> None:
    g = _gen(12)
    a = torch.randn(40, 4, generator=g) * 0.1 + torch.tensor([1.0, 0, 0, 0])
    b = torch.randn(60, 4, generator=g) * 0.1 + torch.tensor([0.0, 2.0, 0, 0])
    codes = torch.cat([a, b])
    labels = torch.cat([torch.zeros(40, dtype=torch.long), torch.ones(60, dtype=torch.long)])
    vec = attribute_vector(codes, labels, to_class=1, from_class=0)
    assert torch.allclose(vec, b.mean(0) - a.mean(0), atol=1e-6)
    to_mean = attribute_vector(codes, labels, to_class=1)
    assert torch.allclose(to_mean, b.mean(0) - codes.mean(0), atol=1e-6)
    moved = apply_attribute(a.mean(0), vec, 1.0)
    assert torch.allclose(moved, class_mean(codes, labels, 1), atol=1e-5)
    with pytest.raises(LatentLabError, match="class 7"):
        class_mean(codes, labels, 7)


def test_traversal_sweeps_one_dim_at_a_time() -> None:
    z = torch.tensor([0.5, -0.5, 2.0])
    out = traversal(z, dims=[0, 2], sigma_range=3.0, steps=7)
    assert out.shape == (2, 7, 3)
    assert torch.allclose(out[0, :, 0], torch.linspace(-3, 3, 7))
    assert torch.equal(out[0, :, 1:], z[1:].expand(7, 2))
    scaled = traversal(z, dims=[1], steps=3, scale=torch.tensor([1.0, 0.5, 1.0]), relative=True)
    assert torch.allclose(scaled[0, :, 1], torch.tensor([-2.0, -0.5, 1.0]))
    with pytest.raises(LatentLabError):
        traversal(z, dims=[3])


def test_kl_per_dim_and_top_dims() -> None:
    mu = torch.tensor([[0.0, 2.0, 0.0, 1.0], [0.0, -2.0, 0.0, 1.0]])
    logvar = torch.zeros(2, 4)
    kl = mean_kl_per_dim(mu, logvar)
    assert torch.allclose(kl, torch.tensor([0.0, 2.0, 0.0, 0.5]))
    assert top_kl_dims(kl, 2) == [1, 3]
    assert top_kl_dims(kl, 10) == [1, 3, 0, 2]  # clipped to D; ties keep the lower index first
