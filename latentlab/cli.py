"""Headless command line: ``latentlab train|evaluate|info|score|export-grid|interpolate|encode``.

argparse over ``latentlab.core``; imports no Qt, so it runs on a server without a display.
A user mistake exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from latentlab import __version__
from latentlab.cli_common import (ProgressPrinter, add_data_options, cancel_on_interrupt, load_data,
                                  positive_float, positive_int, prefetch, section, validation_data)
from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.training_settings import PRECISIONS


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line (``latentlab: error: ...``), status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"latentlab: error: {message} (see 'latentlab {self._sub_name()}--help')\n")
        raise SystemExit(2)

    def _sub_name(self) -> str:
        parts = self.prog.split()
        return (parts[1] + " ") if len(parts) > 1 else ""


def _assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair (argparse type for --option and --lr-for)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name.strip(), value.strip()


def _union(groups: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The distinct items of ``groups`` in first-seen order."""
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _denoises(family: registry.Family) -> bool:
    return any(o.name == "denoise" for o in family.options)


def _family_help(families: tuple[registry.Family, ...]) -> str:
    parts = [f"{f.name} ({f.description.rstrip('.')})" for f in families]
    return "; ".join(parts) + "; default vae for images, seq-vae for sequences"


def _beta_help(families: tuple[registry.Family, ...]) -> str:
    own = [f"{f.default('beta'):g} for {f.name}" for f in families
           if "beta" in f.settings and f.default("beta") is not None]
    readers = ", ".join(f.name for f in families if "beta" in f.settings)
    return (f"KL weight of {readers} (default " + ", ".join([*own, "else 1"]) + ")") if readers else "KL weight"


def _option_help(families: tuple[registry.Family, ...]) -> str:
    described = [f"{f.name}: " + ", ".join(f"{o.name} ({o.help or type(o.default).__name__}, default {o.default})"
                                           for o in f.options) for f in families if f.options]
    return ("a setting of the family's own, as NAME=VALUE (repeatable); "
            + ("; ".join(described) if described else "no installed family has any"))


def _lr_help(families: tuple[registry.Family, ...]) -> str:
    several = [f"{f.name}: {', '.join(f.optimizer_names)}" for f in families if len(f.optimizer_names) > 1]
    return ("learning rate of one optimiser, as NAME=X (repeatable; the others use --lr)"
            + (f"; optimisers of {'; '.join(several)}" if several else ""))


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line grammar."""
    parser = _Parser(prog="latentlab", description="LatentLab: train, inspect and export "
                     "generative autoencoders. With no subcommand, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"LatentLab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    families = registry.families()
    t = sub.add_parser("train", help="train a model and save it as a model folder")
    add_data_options(t, required=True)
    t.add_argument("--family", choices=registry.names(), help=_family_help(families))
    t.add_argument("--arch", choices=_union([f.archs for f in families]),
                   help="mlp (fully connected), conv (convolutional) or gru (recurrent), as the family "
                        "offers; default mlp, else the family's first")
    t.add_argument("--latent-dim", type=positive_int, default=2, metavar="N",
                   help="size of the latent code, 1-256 (default 2: the plane is the space itself)")
    t.add_argument("--hidden", metavar="N[,N...]",
                   help="hidden layer widths (mlp) or channel counts (conv); default 400 / 32,64")
    t.add_argument("--likelihood", choices=_union([f.likelihoods for f in families]), default="bernoulli",
                   help="pixel model of the decoder (default bernoulli)")
    t.add_argument("--beta", type=positive_float, help=_beta_help(families))
    t.add_argument("--kl-warmup", type=int, metavar="EPOCHS",
                   help="epochs over which the KL weight ramps up from 0 (default 0; 2 for rvae)")
    t.add_argument("--epochs", type=positive_int, default=10, metavar="N", help="default 10")
    t.add_argument("--batch-size", type=positive_int, default=128, metavar="N", help="default 128")
    t.add_argument("--lr", type=positive_float, default=1e-3, metavar="X",
                   help="Adam learning rate (default 0.001)")
    t.add_argument("--lr-for", type=_assignment, action="append", default=[], metavar="NAME=X",
                   help=_lr_help(families))
    t.add_argument("--option", type=_assignment, action="append", default=[], metavar="NAME=VALUE",
                   help=_option_help(families))
    t.add_argument("--denoise", metavar="NOISE",
                   help="train as a denoiser (" + ", ".join(f.name for f in families if _denoises(f))
                        + "): corrupt each input with gaussian:S, saltpepper:P or mask:P (level drawn "
                          "per image up to S or P) and reconstruct the clean image")
    t.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    t.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seeds the split, the initial weights and the shuffling (default 0)")
    t.add_argument("--threads", type=positive_int, metavar="T",
                   help="torch threads (default: torch's choice)")
    t.add_argument("--resume", nargs="?", const="", metavar="DIR",
                   help="alone: resume the interrupted run of --out from its checkpoint (same settings); "
                        "with DIR: continue training the model saved in DIR")
    t.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="every N epochs save a checkpoint beside --out (OUT.checkpoint) that --resume "
                        "continues after a crash; removed once the model is saved")
    t.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    t.add_argument("--run-dir", metavar="DIR",
                   help="also keep a live run folder while training (latest weights every few seconds, "
                        "history, status) that `latentlab info DIR` describes and another process can follow")
    t.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (default: fp32, or bf16 for the GAN and the VAE-GAN on a CPU with native bfloat16 "
                        "arithmetic); "
                        "fp32; bf16 autocast (CUDA or CPU); fp16 autocast with loss scaling (CUDA only)")
    t.add_argument("--compile", nargs="?", const="inductor", default="", metavar="BACKEND",
                   help="opt into torch.compile (backend inductor unless named, e.g. eager, aot_eager)")
    t.add_argument("--timelapse", metavar="FILE.mp4|FILE.gif",
                   help="also write a time-lapse of training: the latent plane and a decoded probe per frame")
    t.add_argument("--timelapse-every", type=positive_int, metavar="STEPS",
                   help="one time-lapse frame every STEPS optimiser steps (default: one per snapshot, "
                        "about two a second)")
    from latentlab import cli_uses

    cli_uses.add_train_options(t)

    e = sub.add_parser("evaluate", help="print validation metrics of a model as JSON")
    e.add_argument("--model", required=True, metavar="DIR")
    add_data_options(e, required=False)
    e.add_argument("--device", default="cpu")
    e.add_argument("--noise", metavar="NOISE",
                   help="also measure denoising: psnr of the reconstructions of inputs corrupted with "
                        "this noise (e.g. gaussian:0.5, saltpepper:0.2, mask:0.5; seeded) and psnr_noisy")
    e.add_argument("--samples", type=positive_int, default=1000, metavar="N",
                   help="samples drawn for sample_fd and class_coverage (28x28 grey models; default 1000)")

    i = sub.add_parser("info", help="describe a saved model, or a live run folder (train --run-dir)")
    i.add_argument("model", metavar="DIR")

    s = sub.add_parser("score", help="score every window of a long series: its code and reconstruction error")
    s.add_argument("--model", required=True, metavar="DIR", help="a sequence model trained on windows of a series")
    s.add_argument("--data", required=True, metavar="SERIES.csv",
                   help="the series, with the columns the model was trained on")
    s.add_argument("--stride", type=positive_int, metavar="S",
                   help="steps between window starts (default: the stride the model was trained with)")
    s.add_argument("--out", required=True, metavar="scores.csv",
                   help="one row per window: start, error (mean squared), peak (worst step), z0..z{D-1}")

    from latentlab import cli_export

    cli_export.add_commands(sub)
    cli_uses.add_commands(sub)
    from latentlab import cli_compare

    cli_compare.add_commands(sub)
    return parser


# -- commands ------------------------------------------------------------------------------

def _sequence_options(args: argparse.Namespace) -> bool:
    return bool(args.window or args.stride or args.sequences)


def _default_family(args: argparse.Namespace, data: Any) -> str:
    """vae for images, seq-vae for sequences (strokes, waves, a .csv series, --sequences)."""
    if data is not None:
        return "seq-vae" if data.kind == "sequence" else "vae"
    text = str(args.data).strip().lower()
    return "seq-vae" if text in ("strokes", "waves") or text.endswith(".csv") else "vae"


def _parse_hidden(text: str | None) -> tuple[int, ...] | None:
    """``--hidden 512,256`` as widths; None (the family's default) when not given."""
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise LatentLabError(f"--hidden must be whole numbers separated by commas, got '{text}'") from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train in this process, or as one process of a torchrun launch (see core/distributed.py)."""
    from latentlab.core import distributed

    dist = distributed.from_environment()
    if dist is None:
        return _train(args, None)
    if args.resume is not None or args.checkpoint_every:
        raise LatentLabError("--resume and --checkpoint-every are not available under torchrun; train with "
                             "one process to checkpoint and resume")
    try:
        distributed.check_supported({}, args.batch_size, dist.world_size)
    except LatentLabError:
        if dist.is_main:
            raise
        return 2  # every process finds the same mistake in the arguments; the main one says it
    from latentlab.core.device import resolve_device

    device = resolve_device(distributed.device_for(dist, args.device))
    dist = distributed.start(dist, device)
    try:
        return _train(args, dist)
    except LatentLabError as exc:
        raise LatentLabError(f"process {dist.rank + 1} of {dist.world_size}: {exc}; the run stops and no "
                             "model is saved") from None
    except Exception as exc:
        if not isinstance(exc, (OSError, KeyboardInterrupt)) and _collective_failure(exc):
            raise LatentLabError(f"process {dist.rank + 1} of {dist.world_size}: another process of the run "
                                 "stopped; the run stops and no model is saved") from None
        print(f"latentlab: error: process {dist.rank + 1} of {dist.world_size} failed ({type(exc).__name__}: "
              f"{exc}); the run stops and no model is saved", file=sys.stderr)
        raise
    finally:
        distributed.stop()


def _collective_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because a peer went away."""
    import torch.distributed as td

    if isinstance(exc, td.DistError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("gloo", "nccl", "connection closed", "connection reset", "broken pipe"))


def _train(args: argparse.Namespace, dist: Any) -> int:
    from latentlab.core import autosave
    from latentlab.core.checkpoint import check_save_target, describe_data, load_model, save_model
    from latentlab.core.plan import TrainingSettings, plan_training
    from latentlab.core.training import RunState, TrainControl, train

    main = dist is None or dist.is_main  # only the main process writes, logs and shows progress
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise LatentLabError(f"--out {out} is a file; give a folder name for the model")
    run_dir = _check_run_dir(args.run_dir, out) if main else None
    if main:
        check_save_target(out)  # before training: a refused destination would lose the run
    if dist is None or dist.local_rank == 0:  # one download per machine, not one per process
        prefetch(args.data)  # a standard data set downloads first, with a progress bar
    if dist is not None:
        import torch.distributed as td

        td.barrier()  # the others read the data once it has been fetched
    run_folder = autosave.checkpoint_folder_for(out)
    resume_run = args.resume == ""
    resumed, resumed_meta = _interrupted_run(run_folder, resume_run, out) if dist is None else (None, {})
    # Window options change what a data source means, so such data is loaded here and handed
    # to the plan as its recorded source.
    data = load_data(args) if _sequence_options(args) else None
    args.family = args.family or _default_family(args, data)
    family = registry.get(args.family)
    arch = args.arch or ("mlp" if "mlp" in family.archs else family.archs[0])
    warmup = args.kl_warmup if args.kl_warmup is not None else int(family.default("kl_warmup_epochs", 0))
    lrs = _learning_rates(args.lr_for)
    options = _family_options(args.family, args.option)
    if args.denoise is not None:
        from latentlab.core.models.denoise import parse_noise

        try:
            parse_noise(args.denoise)  # before the data loads: a typo is reported at once
        except LatentLabError as exc:
            raise LatentLabError(f"--denoise: {exc}") from None
    settings = TrainingSettings(
        data=dict(data.source) if data is not None else args.data,
        image_size=args.image_size, color=args.color, limit=None if data is not None else args.limit,
        family=args.family, arch=arch, latent_dim=args.latent_dim,
        hidden=_parse_hidden(args.hidden), likelihood=args.likelihood, beta=args.beta,
        kl_warmup_epochs=warmup, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, device=args.device, threads=args.threads, precision=args.precision,
        continue_training=bool(args.resume) or bool(resumed_meta.get("extra", {}).get("continued")),
        options=options, lrs=lrs, denoise=args.denoise, labelled=args.labels)
    model, history = None, []
    if resumed is not None and settings.continue_training:
        # The interrupted run continued a model: its weights and history are in the checkpoint.
        from latentlab.core.models import ModelConfig, build_model

        model = build_model(ModelConfig.from_dict(resumed.model_config))
        history = resumed_meta["extra"].get("prior_history", [])
    elif args.resume:
        loaded = load_model(args.resume)
        model, history = loaded.model, _history(loaded.meta)
    # A resumed run goes on checkpointing as the interrupted one did, unless told otherwise.
    every = args.checkpoint_every or (resumed.train_config.get("checkpoint_every") if resumed else None)
    timelapse_steps = _check_timelapse(args)
    # A frame every N steps needs a snapshot at every step to choose from.
    snapshot_s = 0.0 if timelapse_steps else None
    spread: dict[str, Any] = {}
    if dist is not None:
        spread = {"world_size": dist.world_size, "backend": dist.backend,
                  "device": _rank_device(dist, args.device)}
        if not main:
            snapshot_s = 1e9  # only the main process has a use for weight copies during the run
    plan = plan_training(settings, data=data, model=model, history=history, checkpoint_every=every,
                         snapshot_interval_s=snapshot_s, compile=args.compile or None,
                         **spread)
    timelapse = _start_timelapse(args, plan) if main else None
    if main:
        for name, reason in plan.data.skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        _say_precision(plan)
    control = TrainControl()
    printer = ProgressPrinter(sys.stderr, first_epoch=plan.first_epoch) if main else None
    watch = _discriminator_watch(plan.model_config) if main else None
    gen = train(plan.model_config, plan.data, plan.train_config, control=control, initial=plan.initial,
                resume=resumed, distributed=dist)
    if resumed is not None:
        print(f"resuming after epoch {resumed.epoch + plan.first_epoch - 1} from {run_folder}", file=sys.stderr)
    run_info = {"data": describe_data(plan.data, plan.train_config.val_fraction, plan.train_config.seed),
                "extra": {"out": str(out.resolve()), "continued": plan.continues,
                          "prior_history": plan.prior_history}}
    live = None
    if main and run_dir is not None:
        from latentlab.core.run_folder import RunFolderWriter

        live = RunFolderWriter(run_dir, plan.model_config, train_config=plan.train_config,
                               data_info=run_info["data"], prior_history=plan.prior_history,
                               first_epoch=plan.first_epoch)
        live.begin()
    # The time-lapse is finished when training ends, and discarded if an error stops it.
    try:
        with cancel_on_interrupt(control), timelapse if timelapse is not None else nullcontext():
            while True:
                try:
                    item = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if not main:
                    continue
                if isinstance(item, RunState):
                    autosave.write_checkpoint(run_folder, item, **run_info)
                    continue
                if live is not None:
                    live.offer(item)
                if hasattr(item, "epoch_done"):
                    printer.update(item)
                    warning = watch.update(item) if watch is not None else None
                    if warning:
                        print(f"\nwarning: {warning}", file=sys.stderr)
                elif timelapse is not None:
                    timelapse.offer(item)
    except BaseException as exc:
        if live is not None:
            first = (str(exc).strip().splitlines() or [""])[0]
            live.fail(str(exc) if isinstance(exc, LatentLabError) else f"training stopped ({type(exc).__name__}"
                      + (f": {first})" if first else ")"))
        raise
    if not main:
        return 0 if result.status != "diverged" else 1
    if live is not None:
        live.end(result.status, result.message, result.model.state_dict(), result.history)
    if timelapse is not None:
        print(f"wrote {args.timelapse} ({timelapse.frames} frames)", file=sys.stderr)
    if control.cancelled:
        print("\ninterrupted: saving what was trained so far", file=sys.stderr)
    tc = plan.train_config
    save_model(out, result.model, train_config=tc, history=plan.full_history(result.history),
               data_info=describe_data(plan.data, tc.val_fraction, tc.seed))
    if result.status != "finished":
        print(f"training {result.status}: {result.message}", file=sys.stderr)
    if result.status == "cancelled" and (run_folder / autosave.STATE_NAME).is_file():
        print(f"the checkpoint in {run_folder} is kept: add --resume to go on from it", file=sys.stderr)
    elif run_folder.is_dir():
        autosave.remove_checkpoint(run_folder)  # the run is over and its model saved
    print(f"saved {out}")
    return 0 if result.status != "diverged" else 1


def _rank_device(dist: Any, choice: str) -> str:
    from latentlab.core.distributed import device_for

    return device_for(dist, choice)


def _check_run_dir(text: str | None, out: Path) -> Path | None:
    """The live run folder, refused before training when it would clash with the model folder."""
    if text is None:
        return None
    run_dir = Path(text)
    resolved, model = run_dir.resolve(), out.resolve()
    if resolved == model or model in resolved.parents or resolved in model.parents:
        raise LatentLabError(f"--run-dir {run_dir} must be a folder of its own, apart from --out {out}")
    from latentlab.core.run_folder import check_run_dir

    check_run_dir(run_dir)
    return run_dir


def _say_precision(plan: Any) -> None:
    """Say so when ``--precision auto`` trains in bfloat16, and how to have float32 instead."""
    from latentlab.core import precision
    from latentlab.core.device import resolve_device
    from latentlab.core.models import registry

    tc = plan.train_config
    if tc.precision != "auto":
        return
    family = registry.get(plan.model_config.family)
    if precision.resolve(tc.precision, resolve_device(tc.device), family) == "bf16":
        print(f"training in bfloat16: this CPU has native bfloat16 arithmetic, which trains the {family.title} "
              "faster (--precision fp32 for float32)", file=sys.stderr)


def _interrupted_run(folder: Path, resume: bool, out: Path) -> tuple[Any, dict[str, Any]]:
    """The checkpoint to resume (``--resume`` alone), or a refusal to overwrite one unasked."""
    from latentlab.core import autosave

    has_checkpoint = (folder / autosave.STATE_NAME).is_file()
    if resume:
        if not has_checkpoint:
            raise LatentLabError(f"there is no interrupted run to resume for --out {out} (no checkpoint in "
                                 f"{folder}); train with --checkpoint-every N to make one")
        return autosave.read_checkpoint(folder)
    if has_checkpoint:
        raise LatentLabError(f"an interrupted run of --out {out} has a checkpoint in {folder}: add --resume "
                             "to go on from it, or delete that folder to start again")
    return None, {}


def _check_timelapse(args: argparse.Namespace) -> int | None:
    """The time-lapse's steps per frame (None: one per snapshot); a bad file name fails before training."""
    if args.timelapse is None:
        if args.timelapse_every is not None:
            raise LatentLabError("--timelapse-every needs --timelapse FILE")
        return None
    from latentlab.core.timelapse import FORMATS

    if Path(args.timelapse).suffix.lower() not in FORMATS:
        raise LatentLabError(f"--timelapse must name a {' or '.join(FORMATS)} file, got '{args.timelapse}'")
    return args.timelapse_every


def _start_timelapse(args: argparse.Namespace, plan: Any) -> Any:
    if args.timelapse is None:
        return None
    from latentlab.core.timelapse import TimelapseRecorder

    return TimelapseRecorder(args.timelapse, plan.model_config, plan.data, every=args.timelapse_every,
                             first_epoch=plan.first_epoch)


def _discriminator_watch(config: Any) -> Any:
    """A watch for a discriminator that wins outright (adversarial families), else None."""
    if not config.capabilities.adversarial:
        return None
    from latentlab.core.models.adversarial import DiscriminatorWatch

    return DiscriminatorWatch.for_config(config)


def _learning_rates(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """``--lr-for NAME=X`` as {optimiser: learning rate}."""
    lrs: dict[str, float] = {}
    for name, text in pairs:
        try:
            lrs[name] = positive_float(text)
        except argparse.ArgumentTypeError as exc:
            raise LatentLabError(f"--lr-for {name}: {exc}") from None
    return lrs


def _family_options(family: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``--option NAME=VALUE`` as the family's typed options (unknown names: a clear error)."""
    chosen = registry.get(family)
    options: dict[str, Any] = {}
    for name, text in pairs:
        try:
            options[name] = chosen.option(name).parse(text)
        except LatentLabError as exc:
            raise LatentLabError(f"--option {name}: {exc}") from None
    return options


def cmd_evaluate(args: argparse.Namespace) -> int:
    from latentlab.core.checkpoint import load_model
    from latentlab.core.inference import check_compatible
    from latentlab.core.metrics import evaluate

    if args.noise is not None:
        from latentlab.core.models.denoise import parse_noise

        try:
            if parse_noise(args.noise) is None:
                raise LatentLabError("give a noise such as gaussian:0.5")
        except LatentLabError as exc:
            raise LatentLabError(f"--noise: {exc}") from None
    loaded = load_model(args.model)
    data = validation_data(loaded.meta, args)
    check_compatible(loaded.config, data)
    metrics = evaluate(loaded.model, data, device=args.device, sample_quality=True,
                       samples=args.samples, noise=args.noise)
    print(json.dumps(metrics, indent=2))
    if str(metrics.get("posterior", "")).startswith("collapsed"):
        print(f"warning: posterior collapse: {metrics['posterior']}", file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from latentlab.core.checkpoint import load_model
    from latentlab.core.data.series import read_series, standardise
    from latentlab.core.scoring import save_scores, score_series

    if Path(args.out).suffix.lower() != ".csv":
        raise LatentLabError(f"--out must name a .csv file, got '{args.out}'")
    loaded = load_model(args.model)
    config = loaded.config
    if config.capabilities.output != "sequence":
        raise LatentLabError("score needs a sequence model (e.g. stream-ae trained on a .csv series); "
                             f"{args.model} makes images")
    source = section(loaded.meta, "data").get("source")
    source = source if isinstance(source, dict) else {}
    values, names = read_series(args.data)
    if config.feature_names and tuple(names) != tuple(config.feature_names):
        raise LatentLabError(f"{args.data}: columns {', '.join(names)} differ from the model's "
                             f"{', '.join(config.feature_names)}")
    # Scale the new series as the training series was, so errors compare with training's.
    if source.get("kind") == "series":
        values, _, _ = standardise(values, source.get("center"), source.get("scale"), args.data)
    stride = args.stride or (source.get("stride") if isinstance(source.get("stride"), int) else None) or 1
    scores = score_series(loaded.model, values, stride)
    save_scores(args.out, scores)
    print(f"wrote {args.out} ({len(scores):,} windows of {config.input_shape[0]} steps, stride {stride}; "
          f"error mean {float(scores.errors.mean()):.4g}, max {float(scores.errors.max()):.4g})")
    return 0


def _history(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-epoch history of a model's config.json (entries that are not dicts are dropped)."""
    history = meta.get("history")
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


def _loss_text(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "?"


def _run_lines(folder: Path) -> list[str]:
    """What a live run folder says: status, epoch reached, last update (stalled when silent)."""
    from latentlab.core.run_folder import STALL_AFTER_S, read_status

    st = read_status(folder)
    age = st.age_s()
    state = st.status + (f" (stalled: no update for {_fmt_age(age)})" if st.stalled(after_s=STALL_AFTER_S) else "")
    lines = [f"run          {folder.resolve()}",
             f"status       {state}" + (f": {st.message}" if st.message else ""),
             f"epoch        {st.epoch} of {st.epochs}, step {st.step}"
             + (f", {st.world_size} processes" if st.world_size > 1 else ""),
             f"updated      {_fmt_age(age)} ago" + (f" on {st.host}" if st.host else ""),
             (f"snapshot     number {st.snapshot}, epoch {st.snapshot_epoch}, step {st.snapshot_step}"
              if st.snapshot else "snapshot     none yet")]
    return lines


def _fmt_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_info(args: argparse.Namespace) -> int:
    from latentlab.core.checkpoint import load_model
    from latentlab.core.run_folder import is_run_folder, read_snapshot

    folder = Path(args.model)
    if is_run_folder(folder):  # a live run: its status, then the model as far as it has come
        print("\n".join(_run_lines(folder)))
        if read_snapshot(folder) is None:
            return 0
    loaded = load_model(args.model)
    c, meta = loaded.config, loaded.meta
    family = registry.get(c.family)
    hist = _history(meta)
    data = section(meta, "data")
    sequence = family.capabilities.output == "sequence"
    lines = [
        f"model        {Path(args.model).resolve()}",
        f"family       {c.family}: {family.title}" + (f" (beta {c.beta:g})" if "beta" in family.settings else ""),
        f"             {family.description}",
        f"architecture {_architecture_text(c, family)}",
        f"latent dim   {c.latent_dim}",
        f"data shape   {' x '.join(map(str, c.input_shape))} " + ("(T x F)" if sequence else "(C x H x W)")
        + (f", features {', '.join(c.feature_names)}" if c.feature_names else ""),
        f"data         {json.dumps(data.get('source'))}, {data.get('n', '?')} items"
        + (f", labels {', '.join(c.label_names)}" if c.label_names else ""),
    ]
    shown = {k: v for k, v in c.options.items() if v != ""}  # an empty text option is off
    if shown:
        lines.append("options      " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    if hist:
        last = hist[-1]
        main = family.terms[0]  # the minimised loss ("loss", or a GAN's "d_loss")
        val = section(last, "val").get(main)
        lines.append(f"history      {len(hist)} epoch{'s' if len(hist) != 1 else ''}; last train {main.replace('_', ' ')} "
                     f"{_loss_text(section(last, 'train').get(main))}"
                     + (f", validation {main.replace('_', ' ')} {_loss_text(val)}" if val is not None else ""))
    else:
        lines.append("history      not trained by gradient descent (no epochs recorded)")
    print("\n".join(lines))
    return 0


def _architecture_text(c: Any, family: registry.Family) -> str:
    """What the family's network is built from, naming only the settings it reads."""
    parts = []
    if "arch" in family.settings:
        parts.append(c.arch)
    if "hidden" in family.settings:
        parts.append(f"hidden {','.join(map(str, c.hidden))}")
    if "likelihood" in family.settings:
        parts.append(f"{c.likelihood} likelihood")
    if not family.capabilities.trainable:
        parts.insert(0, "fitted in closed form")
    return ", ".join(parts) if parts else "fixed by the family"


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "info": cmd_info, "score": cmd_score}


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    from latentlab import cli_compare, cli_export, cli_uses

    handler = (COMMANDS.get(args.command) or cli_export.COMMANDS.get(args.command)
               or cli_compare.COMMANDS.get(args.command) or cli_uses.COMMANDS[args.command])
    try:
        code = handler(args)
    except LatentLabError as exc:
        print(f"latentlab: error: {exc}", file=sys.stderr)
        code = 2
    except OSError as exc:  # a path the user gave could not be read or written
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"latentlab: error: {exc.strerror or exc}{where}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("latentlab: interrupted", file=sys.stderr)
        code = 130
    distributed = sys.modules.get("latentlab.core.distributed")  # imported by any run that joined a group
    if distributed is not None and distributed.joined():
        distributed.end_process(code)  # a process of a torchrun launch: see core/distributed.py
    return code
