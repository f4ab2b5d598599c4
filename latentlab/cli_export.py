"""CLI subcommands that take results away: ``export-grid``, ``interpolate``, ``encode``.

Thin argparse wrappers over ``latentlab.core.latent`` and ``latentlab.core.export``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from latentlab.core.errors import LatentLabError


def add_commands(sub: Any) -> None:
    """Register the export subcommands on the main parser's subparsers."""
    g = sub.add_parser("export-grid", help="decode an n x n grid over the prior into one image")
    g.add_argument("--model", required=True, metavar="DIR")
    g.add_argument("--n", type=int, default=20, help="images per side (default 20)")
    g.add_argument("--out", required=True, metavar="FILE.png")
    g.add_argument("--scale", type=int, default=1, help="integer upscaling (nearest neighbour)")
    g.add_argument("--dims", default="0,1", metavar="I,J",
                   help="the two latent dimensions the grid spans (others held at 0)")
    g.add_argument("--label", help="condition for a conditional model (class name or index)")

    p = sub.add_parser("interpolate", help="decode a path between images")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--from", dest="start", required=True, metavar="A",
                   help="an image file or a data-set item such as mnist:123")
    p.add_argument("--to", dest="end", required=True, metavar="B")
    p.add_argument("--via", action="append", default=[], metavar="C", help="a waypoint (repeatable)")
    p.add_argument("--steps", type=int, default=8, help="frames between consecutive waypoints")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--fps", type=float, default=12.0)
    p.add_argument("--pingpong", action="store_true", help="animate forth and back")
    p.add_argument("--label", help="condition for a conditional model (class name or index)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="STRIP.png", help="one image with the frames side by side")
    out.add_argument("--gif", metavar="PATH.gif", help="an animated GIF")
    out.add_argument("--apng", metavar="PATH.png", help="an animated PNG")

    e = sub.add_parser("encode", help="write the latent codes of a data set as CSV or NPY")
    e.add_argument("--model", required=True, metavar="DIR")
    e.add_argument("--data", metavar="SOURCE", help="default: the data set the model was trained on")
    e.add_argument("--image-size", type=int, metavar="PX")
    e.add_argument("--color", choices=("auto", "gray", "rgb"), default="auto")
    e.add_argument("--out", required=True, metavar="codes.csv|codes.npy")


def _condition(loaded: Any, text: str | None) -> int | None:
    """The class a conditional model decodes with (``--label``: a name or an index); None otherwise."""
    cfg = loaded.config
    if not cfg.is_conditional:
        if text is not None:
            raise LatentLabError("--label only applies to conditional models (cvae)")
        return None
    if text is None:
        return 0
    names = list(cfg.label_names)
    if text in names:
        k = names.index(text)
    else:
        try:
            k = int(text)
        except ValueError:
            raise LatentLabError(f"unknown label '{text}'; choose from {', '.join(names)}") from None
    if not 0 <= k < cfg.num_classes:
        raise LatentLabError(f"label {k} is out of range 0..{cfg.num_classes - 1}")
    return k


def _check_scale(scale: int) -> None:
    if not 1 <= scale <= 64:
        raise LatentLabError(f"--scale must be between 1 and 64, got {scale}")


def cmd_export_grid(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference, latent
    from latentlab.core.checkpoint import load_model

    _check_scale(args.scale)
    if not 1 <= args.n <= 100:
        raise LatentLabError(f"--n must be between 1 and 100, got {args.n}")
    loaded = load_model(args.model)
    dim = loaded.config.latent_dim
    try:
        i, j = (int(v) for v in args.dims.split(","))
    except ValueError:
        raise LatentLabError(f"--dims must be two indices like 0,1, got '{args.dims}'") from None
    if dim == 1:
        i, j = 0, 0
    elif not (0 <= i < dim and 0 <= j < dim and i != j):
        raise LatentLabError(f"--dims must name two different dimensions below {dim}")
    plane = latent.dims_plane(i, j, dim) if dim > 1 else latent.pca_plane(torch.zeros(2, 1))
    codes, _extent = latent.prior_grid(plane, args.n)
    images = inference.decode(loaded.model, codes, _condition(loaded, args.label))
    export.save_grid(args.out, images, n_cols=args.n, scale=args.scale, pad=0)
    print(f"wrote {args.out} ({args.n} x {args.n} images)")
    return 0


def resolve_item(ref: str, shape: tuple[int, int, int]):
    """An image file or ``dataset:index`` -> float tensor [C, H, W] of the model's shape."""
    import torch

    from latentlab.core.data import load_dataset

    name, sep, index = ref.rpartition(":")
    if sep and index.isdigit() and name and not Path(ref).exists():
        data = load_dataset(name)
        k = int(index)
        if not 0 <= k < len(data):
            raise LatentLabError(f"{ref}: index out of range (the data set has {len(data)} items)")
        image = data.images[k]
    else:
        from latentlab.core.data import load_image_file

        image = load_image_file(ref, shape)
    if tuple(image.shape) != tuple(shape):
        raise LatentLabError(f"{ref}: image shape {tuple(image.shape)} does not match the model's "
                             f"{tuple(shape)}")
    return image.to(torch.float32)


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference, latent
    from latentlab.core.checkpoint import load_model

    _check_scale(args.scale)
    if not 0 <= args.steps <= 1000:
        raise LatentLabError(f"--steps must be between 0 and 1000, got {args.steps}")
    loaded = load_model(args.model)
    refs = [args.start, *args.via, args.end]
    images = torch.stack([resolve_item(r, loaded.config.input_shape) for r in refs])
    label = _condition(loaded, args.label)
    mu = torch.from_numpy(inference.encode(loaded.model, images, label))
    codes = latent.path_through(mu, args.steps, method="slerp" if args.slerp else "lerp")
    frames = inference.decode(loaded.model, codes, label)
    if args.out:
        export.save_strip(args.out, frames, scale=args.scale)
        target = args.out
    elif args.gif:
        export.save_gif(args.gif, frames, fps=args.fps, pingpong=args.pingpong, scale=args.scale)
        target = args.gif
    else:
        export.save_apng(args.apng, frames, fps=args.fps, pingpong=args.pingpong, scale=args.scale)
        target = args.apng
    print(f"wrote {target} ({len(frames)} frames)")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference
    from latentlab.core.checkpoint import load_model
    from latentlab.core.data import load_dataset

    loaded = load_model(args.model)
    if args.data:
        data = load_dataset(args.data, image_size=args.image_size, color=args.color)
    else:
        if args.image_size is not None or args.color != "auto":
            raise LatentLabError("--image-size and --color apply to the data given with --data; without "
                                 "--data the model's own data set is used as it was trained")
        recorded = loaded.meta.get("data")
        source = recorded.get("source") if isinstance(recorded, dict) else None
        if not source:
            raise LatentLabError("this model does not record its data set; pass --data")
        data = load_dataset(source)
    codes = torch.from_numpy(inference.encode_dataset(loaded.model, data, chunk=1000))
    export.save_codes(args.out, codes, labels=data.labels, names=data.class_names)
    print(f"wrote {args.out} ({len(codes)} codes of dimension {codes.shape[1]})")
    return 0


COMMANDS = {"export-grid": cmd_export_grid, "interpolate": cmd_interpolate, "encode": cmd_encode}
