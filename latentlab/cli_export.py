"""CLI subcommands that take results away: ``export-grid``, ``interpolate``, ``encode``, ``export-onnx``.

Thin argparse wrappers over ``latentlab.core.latent``, ``latentlab.core.inference``,
``latentlab.core.render`` and ``latentlab.core.export``. Every model's output kind is
exported: images as their pixels, sequences (pen strokes, signals) rendered to pictures of
``--size`` pixels, and with ``--raw`` their decoded numbers as CSV or NPY.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from latentlab.cli_common import prefetch
from latentlab.core.errors import LatentLabError

RAW_HELP = ("also write the decoded sequences' raw values [frames, T, F] (sequence models): "
            ".csv with columns frame,step,<feature names>, or .npy float32")
SIZE_HELP = "side in pixels of each rendered sequence frame (sequence models; default 96)"


def add_commands(sub: Any) -> None:
    """Register the export subcommands on the main parser's subparsers."""
    g = sub.add_parser("export-grid", help="decode an n x n grid over the prior into one image")
    g.add_argument("--model", required=True, metavar="DIR")
    g.add_argument("--n", type=int, default=20, help="images per side (default 20)")
    g.add_argument("--out", required=True, metavar="FILE.png")
    g.add_argument("--scale", type=int, default=1, help="integer upscaling (nearest neighbour)")
    g.add_argument("--size", type=int, metavar="PX", help=SIZE_HELP)
    g.add_argument("--dims", default="0,1", metavar="I,J",
                   help="the two latent dimensions the grid spans (others held at 0)")
    g.add_argument("--label", help="condition for a conditional model (class name or index)")
    g.add_argument("--raw", metavar="FILE.csv|FILE.npy", help=RAW_HELP)

    p = sub.add_parser("interpolate", help="decode a path between images or sequences")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--from", dest="start", required=True, metavar="A",
                   help="an image file or a data-set item such as mnist:123; for a sequence model a "
                        ".csv or .npy sequence file (as --raw writes, one frame) or a data-set item")
    p.add_argument("--to", dest="end", required=True, metavar="B")
    p.add_argument("--via", action="append", default=[], metavar="C", help="a waypoint (repeatable)")
    p.add_argument("--steps", type=int, default=8, help="frames between consecutive waypoints")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--size", type=int, metavar="PX", help=SIZE_HELP)
    p.add_argument("--fps", type=float, default=12.0)
    p.add_argument("--pingpong", action="store_true", help="animate forth and back")
    p.add_argument("--label", help="condition for a conditional model (class name or index)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", metavar="STRIP.png", help="one image with the frames side by side")
    out.add_argument("--gif", metavar="PATH.gif", help="an animated GIF")
    out.add_argument("--apng", metavar="PATH.png", help="an animated PNG")
    out.add_argument("--mp4", metavar="PATH.mp4", help='an H.264 MP4 video (needs: pip install "latentlab[video]")')
    p.add_argument("--raw", metavar="FILE.csv|FILE.npy", help=RAW_HELP + "; may be given alone")

    e = sub.add_parser("encode", help="write the latent codes of a data set as CSV or NPY")
    e.add_argument("--model", required=True, metavar="DIR")
    e.add_argument("--data", metavar="SOURCE", help="default: the data set the model was trained on")
    e.add_argument("--image-size", type=int, metavar="PX")
    e.add_argument("--color", choices=("auto", "gray", "rgb"), default="auto")
    e.add_argument("--window", type=int, metavar="T", help="steps per window of a .csv series")
    e.add_argument("--stride", type=int, metavar="S", help="steps between window starts of a .csv series")
    e.add_argument("--sequences", action="store_true", help="read a .npy/.npz array as sequences")
    e.add_argument("--out", required=True, metavar="codes.csv|codes.npy")

    o = sub.add_parser("export-onnx", help="write a model's encoder and decoder as ONNX files")
    o.add_argument("--model", required=True, metavar="DIR")
    o.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write: encoder.onnx, decoder.onnx and latentlab-onnx.json")


def _condition(loaded: Any, text: str | None) -> int | None:
    """The class a conditional model decodes with (``--label``: a name or an index); None otherwise."""
    cfg = loaded.config
    if not cfg.is_conditional:
        if text is not None:
            raise LatentLabError("--label only applies to conditional models (cvae)")
        return None
    if text is None:
        return 0
    from latentlab.core.inference import class_index

    return class_index(cfg, text)


def _check_scale(scale: int) -> None:
    if not 1 <= scale <= 64:
        raise LatentLabError(f"--scale must be between 1 and 64, got {scale}")


def _check_raw(path: str | None) -> None:
    """Refuse a --raw file name of the wrong kind before any work is done."""
    from latentlab.core.export import SEQUENCE_FORMATS

    if path is not None and os.path.splitext(path)[1].lower() not in SEQUENCE_FORMATS:
        raise LatentLabError(f"--raw must name a {' or '.join(SEQUENCE_FORMATS)} file, got '{path}'")


def _output_options(loaded: Any, size: int | None, raw: str | None) -> Any:
    """The model's output spec, once --size and --raw are known to apply to it."""
    from latentlab.core.render import MAX_RENDER_SIDE, MIN_RENDER_SIDE, output_spec

    spec = output_spec(loaded.config)
    if spec.kind == "image":
        if size is not None:
            raise LatentLabError("--size applies to sequence models; this model makes images "
                                 "(use --scale to enlarge them)")
        if raw is not None:
            raise LatentLabError("--raw writes a sequence model's decoded values; this model makes "
                                 "images (write them with --out, --gif or --apng)")
    elif size is not None and not MIN_RENDER_SIDE <= size <= MAX_RENDER_SIDE:
        raise LatentLabError(f"--size must be between {MIN_RENDER_SIDE} and {MAX_RENDER_SIDE}, got {size}")
    return spec


def _write_raw(path: str, outputs: Any, spec: Any) -> None:
    from latentlab.core import export

    export.save_sequences(path, outputs, spec.features)
    print(f"wrote {path} ({len(outputs)} sequences of {outputs.shape[1]} steps: {', '.join(spec.features)})")


def cmd_export_grid(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference, latent
    from latentlab.core.checkpoint import load_model

    _check_scale(args.scale)
    _check_raw(args.raw)
    if not 1 <= args.n <= 100:
        raise LatentLabError(f"--n must be between 1 and 100, got {args.n}")
    loaded = load_model(args.model)
    spec = _output_options(loaded, args.size, args.raw)
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
    outputs = inference.decode(loaded.model, codes, _condition(loaded, args.label))
    if spec.kind == "image":
        export.save_grid(args.out, outputs, n_cols=args.n, scale=args.scale, pad=0)
    else:
        # Rendered cells are white: one-pixel grey gutters keep them apart.
        export.save_grid(args.out, outputs, n_cols=args.n, scale=args.scale, pad=1, spec=spec, size=args.size)
    print(f"wrote {args.out} ({args.n} x {args.n} {'images' if spec.kind == 'image' else 'sequences'})")
    if args.raw:
        _write_raw(args.raw, outputs, spec)
    return 0


def resolve_item(ref: str, shape: tuple[int, ...], features: tuple[str, ...] | None = None):
    """An item of the model's input ``shape`` as a float tensor.

    Images: an image file or ``dataset:index``. Sequences (``features`` given): a ``.csv`` or
    ``.npy`` sequence file or ``dataset:index``.
    """
    import torch

    from latentlab.core.data import load_dataset

    name, sep, index = ref.rpartition(":")
    if sep and index.isdigit() and name and not Path(ref).exists():
        prefetch(name)
        # A sequence set is cut to the model's length (strokes and waves items, series windows).
        cut = features is not None and Path(name).suffix.lower() not in (".npy", ".npz")
        data = load_dataset(name, window=shape[0] if cut else None)
        k = int(index)
        if not 0 <= k < len(data):
            raise LatentLabError(f"{ref}: index out of range (the data set has {len(data)} items)")
        item = data.images[k]
    elif features is not None:
        from latentlab.core.export import load_sequence

        item = torch.from_numpy(load_sequence(ref, features))
    else:
        from latentlab.core.data import load_image_file

        item = load_image_file(ref, shape)
    if tuple(item.shape) != tuple(shape):
        what = "sequence" if features is not None else "image"
        raise LatentLabError(f"{ref}: {what} shape {tuple(item.shape)} does not match the model's "
                             f"{tuple(shape)}")
    return item.to(torch.float32)


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference, latent
    from latentlab.core.checkpoint import load_model

    if not (args.out or args.gif or args.apng or args.mp4 or args.raw):
        raise LatentLabError("say where to write the path: --out, --gif, --apng or --mp4 (and/or --raw)")
    if args.mp4:
        from latentlab.core.video import _check_fps, _ffmpeg

        _check_fps(args.fps)
        _ffmpeg()  # a missing encoder is reported before any work is done
    _check_scale(args.scale)
    _check_raw(args.raw)
    if not 0 <= args.steps <= 1000:
        raise LatentLabError(f"--steps must be between 0 and 1000, got {args.steps}")
    loaded = load_model(args.model)
    spec = _output_options(loaded, args.size, args.raw)
    features = None if spec.kind == "image" else spec.features
    refs = [args.start, *args.via, args.end]
    items = torch.stack([resolve_item(r, tuple(loaded.config.input_shape), features) for r in refs])
    label = _condition(loaded, args.label)
    mu = torch.from_numpy(inference.encode(loaded.model, items, label))
    codes = latent.path_through(mu, args.steps, method="slerp" if args.slerp else "lerp")
    frames = inference.decode(loaded.model, codes, label)
    render = {} if spec.kind == "image" else {"spec": spec, "size": args.size}
    target = args.out or args.gif or args.apng or args.mp4
    if args.out:
        export.save_strip(args.out, frames, scale=args.scale, **render)
    elif args.gif:
        export.save_gif(args.gif, frames, fps=args.fps, pingpong=args.pingpong, scale=args.scale, **render)
    elif args.apng:
        export.save_apng(args.apng, frames, fps=args.fps, pingpong=args.pingpong, scale=args.scale, **render)
    elif args.mp4:
        from latentlab.core.video import save_mp4

        save_mp4(args.mp4, frames, fps=args.fps, pingpong=args.pingpong, scale=args.scale, **render)
    if target:
        print(f"wrote {target} ({len(frames)} frames)")
    if args.raw:
        _write_raw(args.raw, frames, spec)
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from latentlab.core import export, inference
    from latentlab.core.checkpoint import load_model
    from latentlab.core.data import load_dataset

    loaded = load_model(args.model)
    if args.data:
        prefetch(args.data)
        data = load_dataset(args.data, image_size=args.image_size, color=args.color, window=args.window,
                            stride=args.stride, sequences=args.sequences)
    else:
        if args.image_size is not None or args.color != "auto" or args.window or args.stride or args.sequences:
            raise LatentLabError("--image-size, --color, --window, --stride and --sequences apply to the data "
                                 "given with --data; without "
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


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from latentlab.core.checkpoint import load_model
    from latentlab.core.onnx_io import export_onnx

    loaded = load_model(args.model)
    out = export_onnx(loaded.model, args.out)
    print(f"wrote {out} ({', '.join(sorted(p.name for p in out.iterdir()))})")
    return 0


COMMANDS = {"export-grid": cmd_export_grid, "interpolate": cmd_interpolate, "encode": cmd_encode,
            "export-onnx": cmd_export_onnx}
