"""A person's own model behind LatentLab's model interface: :class:`ExternalModel`.

Wrap any PyTorch module with ``encode(x)`` (a code ``[B, D]`` or ``(mu, logvar)``) and
``decode(z)``, or give separate ``encoder=`` / ``decoder=`` callables (torch modules, plain
functions, or ONNX sessions, see :mod:`latentlab.core.onnx_io`). The wrapped model then works
with :mod:`latentlab.core.inference`, :mod:`latentlab.core.latent`, the exports and the app.

A decoder alone (a GAN's generator) is a model too: it has no encoder, so data is placed in its
latent space by search (:func:`grid_search_codes`, for latents of 3 or fewer dimensions).

What the decoder makes is inferred from one decode unless given: its kind from its shape
(``[C, H, W]`` with 1 or 3 channels is an image, ``[T, F]`` a sequence) and, for images, how
its values map to pixels (``output_range``): ``"unit"`` (already in [0, 1]), ``"tanh"``
([-1, 1], as many GANs make) or ``"logits"`` (a sigmoid gives pixels). Naming them is safer
than the guess.

Such a model is the person's own code: LatentLab cannot rebuild it from a file, so
:func:`latentlab.api.save_model` refuses it with a message saying what can be saved
(:func:`save_weights` writes its weights as safetensors; the code that builds it stays theirs).
Inside one process, copies for background work are made by the family's ``build`` from a
handle kept in the config, so the app's inference worker works on it as on any model.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.models.base import LatentModel
from latentlab.core.models.config import ModelConfig
from latentlab.core.models.registry import Capabilities, Family, Option

__all__ = [
    "MAX_GRID_POINTS", "OUTPUT_RANGES", "ExternalModel", "external_family_name", "grid_search_codes",
    "is_external", "is_external_family", "save_refusal", "save_weights", "wrap",
]

OUTPUT_RANGES = ("unit", "tanh", "logits", "raw")
MAX_GRID_POINTS = 200_000   # codes decoded by one grid search
_live: weakref.WeakValueDictionary[str, ExternalModel] = weakref.WeakValueDictionary()
_counter = itertools.count(1)
_lock = threading.Lock()


# -- the families an external model belongs to -------------------------------------------------
def external_family_name(output: str, has_encoder: bool) -> str:
    """``external``, ``external-sequence``, ``external-generator`` or ``external-generator-sequence``."""
    return "external" + ("" if has_encoder else "-generator") + ("" if output == "image" else "-sequence")


def _build(config: ModelConfig) -> ExternalModel:
    handle = str(config.options.get("handle", ""))
    model = _live.get(handle)
    if model is None:
        raise LatentLabError(
            "this model wraps code of your own and is no longer in memory; LatentLab cannot rebuild "
            "it from settings. Wrap your module again with latentlab.wrap(...)")
    return model.copy()


def _check_shape(config: ModelConfig) -> None:
    kind = registry.get(config.family).capabilities.output
    try:
        registry.check_input_shape(config)
    except LatentLabError as exc:
        raise LatentLabError(f"your decoder's output does not fit a {kind} model: {exc}") from None


def _ensure_families() -> None:
    with _lock:
        known = set(registry.names())
        for output, has_encoder in itertools.product(("image", "sequence"), (True, False)):
            name = external_family_name(output, has_encoder)
            if name in known:
                continue
            registry.register(Family(
                name=name,
                title="Your own model" if has_encoder else "Your own generator",
                description=("A model of your own code (an encoder and a decoder) wrapped by LatentLab."
                             if has_encoder else "A decoder of your own code (e.g. a GAN generator) "
                             "wrapped by LatentLab; data is placed by search."),
                capabilities=Capabilities(encoder=has_encoder, output=output, trainable=False),
                build=_build,
                settings=("likelihood",),
                options=(Option("handle", "", help="which wrapped model in this process"),
                         Option("output_range", "unit", help="how decoded values map to pixels",
                                choices=OUTPUT_RANGES)),
                archs=("external",),
                check_config=_check_shape,
            ))


def is_external_family(name: str) -> bool:
    """Whether family ``name`` holds wrapped models: not one a person can train or choose in a list."""
    try:
        return registry.get(name).build is _build
    except LatentLabError:
        return False


def is_external(model: Any) -> bool:
    """Whether ``model`` wraps a person's own code (and so cannot be saved as a LatentLab model)."""
    return isinstance(model, ExternalModel)


# -- the adapter -------------------------------------------------------------------------------
def _call(fn: Callable[..., Any], what: str, arg: torch.Tensor) -> Any:
    try:
        return fn(arg)
    except LatentLabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the person's own code: say where it broke
        raise LatentLabError(f"your {what} failed on input of shape {tuple(arg.shape)}: "
                             f"{type(exc).__name__}: {exc}") from exc


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise LatentLabError(f"your {what} must return a tensor (or a numpy array), got {type(value).__name__}")


class ExternalModel(LatentModel):
    """A person's encoder and decoder behind the :class:`LatentModel` interface.

    Parameters
    ----------
    module:
        An object with ``encode(x)`` and ``decode(z)`` methods (typically an ``nn.Module``),
        or None when ``encoder``/``decoder`` are given. A module with ``decode`` only is a
        generator.
    encoder, decoder:
        Callables used instead of the module's methods (``encoder`` may be None: a generator).
    latent_dim:
        Size of the code; read from ``module.latent_dim`` (or ``z_dim``), or from encoding
        ``example``, when not given.
    example:
        A few items ``[N, ...]`` of the data, to learn the code size by encoding them.
    output:
        ``"image"`` or ``"sequence"``; inferred from the decoder's output shape when None.
    output_range:
        ``"unit"``, ``"tanh"``, ``"logits"`` (images) or ``"raw"`` (sequences); inferred from
        a few decoded codes when None.
    feature_names, label_names:
        Names of a sequence's features and of the data's classes, for display.
    name:
        What the app and messages call it.
    """

    trainable = False

    def __init__(self, module: Any = None, *, encoder: Callable[..., Any] | None = None,
                 decoder: Callable[..., Any] | None = None, latent_dim: int | None = None,
                 example: torch.Tensor | np.ndarray | None = None, output: str | None = None,
                 output_range: str | None = None, feature_names: Sequence[str] = (),
                 label_names: Sequence[str] = (), name: str = "") -> None:
        if module is not None and (encoder is not None or decoder is not None):
            raise LatentLabError("give either a module with encode/decode, or encoder=/decoder=, not both")
        if module is not None:
            if isinstance(module, LatentModel):
                raise LatentLabError("this is already a LatentLab model; use it as it is")
            if not callable(getattr(module, "decode", None)):
                raise LatentLabError(
                    f"{type(module).__name__} has no decode(z) method; LatentLab needs decode(z) -> output "
                    "and (for data to be placed) encode(x) -> code or (mu, logvar). Or pass "
                    "encoder= and decoder= callables.")
            encoder = getattr(module, "encode", None)
            encoder = encoder if callable(encoder) else None
            decoder = module.decode
        if decoder is None or not callable(decoder):
            raise LatentLabError("a model needs a decoder: decode(z) -> output, or decoder=callable")
        if encoder is not None and not callable(encoder):
            raise LatentLabError(f"encoder must be callable, got {type(encoder).__name__}")
        if output_range is not None and output_range not in OUTPUT_RANGES:
            raise LatentLabError(f"output_range must be one of {', '.join(OUTPUT_RANGES)}, got {output_range!r}")
        if output is not None and output not in registry.OUTPUT_KINDS:
            raise LatentLabError(f"output must be one of {', '.join(registry.OUTPUT_KINDS)}, got {output!r}")
        nn.Module.__init__(self)  # the config comes once the decoder has been looked at
        _ensure_families()
        # The module goes in as a submodule when it is one: .to(), .eval(), state_dict() reach it.
        holder = nn.Module()
        for key, part in (("module", module), ("encoder_module", encoder), ("decoder_module", decoder)):
            if isinstance(part, nn.Module):
                holder.add_module(key, part)
        # A tuple, so a callable that is itself a module is not registered twice.
        self._fns = (encoder, decoder)
        dim = self._latent_dim(module, latent_dim, example)
        out = self._probe_output(dim)
        kind = output or self._kind_of(out)
        rng = output_range or self._range_of(kind, dim)
        if kind == "image" and rng == "raw":
            raise LatentLabError("an image output's range is unit, tanh or logits, not raw")
        if kind == "sequence" and rng != "raw":
            raise LatentLabError("a sequence output is used as it is: output_range 'raw'")
        with _lock:
            handle = f"{os.getpid()}-{next(_counter)}"
        try:
            config = ModelConfig(
                family=external_family_name(kind, encoder is not None), arch="external",
                input_shape=tuple(out.shape[1:]), latent_dim=dim, hidden=(1,),
                likelihood="bernoulli" if rng == "logits" else "gaussian",
                label_names=tuple(label_names), feature_names=tuple(feature_names),
                options={"handle": handle, "output_range": rng})
        except LatentLabError as exc:
            raise LatentLabError(f"cannot use this model: {exc}") from None
        self.config = config
        self.parts = holder
        self.name = name or (type(module).__name__ if module is not None else "external model")
        _live[handle] = self

    # -- what it is ----------------------------------------------------------------------
    @property
    def _encode_fn(self) -> Callable[..., Any] | None:
        return self._fns[0]

    @property
    def _decode_fn(self) -> Callable[..., Any]:
        return self._fns[1]

    @property
    def has_encoder(self) -> bool:
        return self._encode_fn is not None

    @property
    def output_range(self) -> str:
        return str(self.config.options["output_range"])

    def copy(self) -> ExternalModel:
        """An independent copy for another thread (a model without torch weights is shared)."""
        if not any(True for _ in self.parts.parameters()) and not any(True for _ in self.parts.buffers()):
            return self
        return copy.deepcopy(self)

    # -- inference ------------------------------------------------------------------------
    def _latent_dim(self, module: Any, given: int | None, example: Any) -> int:
        if given is None and module is not None:
            for attr in ("latent_dim", "z_dim", "latent_size"):
                value = getattr(module, attr, None)
                if isinstance(value, int) and not isinstance(value, bool):
                    given = value
                    break
        if given is None and example is not None:
            if self._encode_fn is None:
                raise LatentLabError("a generator has no encoder to learn the code size from; give latent_dim=")
            x = _as_tensor(example, "example").to(torch.float32)
            with torch.inference_mode():
                mu, _ = self._split(_call(self._encode_fn, "encoder", x), len(x), None)
            given = int(mu.shape[1])
        if given is None:
            raise LatentLabError("cannot tell the size of the code: give latent_dim= (or example= data "
                                 "to encode, or a latent_dim attribute on the module)")
        if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 256:
            raise LatentLabError(f"latent_dim must be a whole number from 1 to 256, got {given!r}")
        return given

    def _probe_output(self, dim: int) -> torch.Tensor:
        with torch.inference_mode():
            out = _as_tensor(_call(self._decode_fn, "decoder", torch.zeros(2, dim)), "decoder")
        if out.ndim < 2 or out.shape[0] != 2:
            raise LatentLabError(f"your decoder must return one output per code ([B, ...]); for 2 codes "
                                 f"it returned shape {tuple(out.shape)}")
        return out

    @staticmethod
    def _kind_of(out: torch.Tensor) -> str:
        shape = tuple(out.shape[1:])
        if len(shape) == 3 and shape[0] in (1, 3):
            return "image"
        if len(shape) == 2:
            return "sequence"
        raise LatentLabError(f"your decoder makes outputs of shape {shape}: LatentLab shows images "
                             "[C, H, W] with 1 or 3 channels or sequences [T, F]; reshape them in decode")

    def _range_of(self, kind: str, dim: int) -> str:
        if kind == "sequence":
            return "raw"
        gen = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            out = _as_tensor(_call(self._decode_fn, "decoder", torch.randn(16, dim, generator=gen)), "decoder")
        lo, hi = float(out.min()), float(out.max())
        if lo >= 0.0 and hi <= 1.0:
            return "unit"
        if lo >= -1.0 and hi <= 1.0:
            return "tanh"
        return "logits"

    def _split(self, result: Any, n: int, dim: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(result, (tuple, list)):
            if len(result) != 2:
                raise LatentLabError(f"your encoder must return a code or (mu, logvar), got {len(result)} values")
            mu, logvar = _as_tensor(result[0], "encoder"), result[1]
            logvar = None if logvar is None else _as_tensor(logvar, "encoder")
        else:
            mu, logvar = _as_tensor(result, "encoder"), None
        mu = mu.reshape(len(mu), -1) if mu.ndim > 2 else mu
        if mu.ndim != 2 or mu.shape[0] != n or (dim is not None and mu.shape[1] != dim):
            want = f"[{n}, {dim}]" if dim is not None else f"[{n}, D]"
            raise LatentLabError(f"your encoder returned codes of shape {tuple(mu.shape)}; expected {want}")
        if logvar is not None:
            logvar = logvar.reshape(mu.shape)
        return mu.to(torch.float32), None if logvar is None else logvar.to(torch.float32)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._encode_fn is None:
            raise LatentLabError(f"{self.name} has no encoder: place data with a search instead of encoding it")
        return self._split(_call(self._encode_fn, "encoder", x), len(x), self.config.latent_dim)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = _as_tensor(_call(self._decode_fn, "decoder", z), "decoder")
        expected = (len(z), *self.config.input_shape)
        if tuple(out.shape) != expected:
            raise LatentLabError(f"your decoder returned shape {tuple(out.shape)}; expected {expected}")
        return out.to(torch.float32)

    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.decode(z, y)
        rng = self.output_range
        if rng == "logits":
            return torch.sigmoid(out)
        if rng == "tanh":
            return ((out + 1.0) * 0.5).clamp(0.0, 1.0)
        if rng == "unit":
            return out.clamp(0.0, 1.0)
        return out

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             kl_weight: float | None = None) -> dict[str, torch.Tensor]:
        """Squared reconstruction error per item (and the KL when the encoder gives a logvar)."""
        mu, logvar = self.encode(x, y)
        recon = ((self.decode_image(mu) - x) ** 2).flatten(1).sum(1).mean()
        kl = torch.zeros((), device=x.device) if logvar is None else (
            -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1).mean())
        return {"loss": recon + kl, "recon": recon, "kl": kl}

    def kl_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self._encode_fn is None:
            return torch.zeros(self.config.latent_dim)
        mu, logvar = self.encode(x, y)
        if logvar is None:
            return torch.zeros(self.config.latent_dim, device=mu.device)
        return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)

    def __deepcopy__(self, memo: dict[int, Any]) -> ExternalModel:
        # Deep-copy the torch parts; the callables are re-pointed at the copied modules.
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, value if key in ("config",) else copy.deepcopy(value, memo))
        return clone


def wrap(model: Any = None, **kwargs: Any) -> LatentModel:
    """``model`` as a LatentLab model: a LatentLab model as it is, anything else an :class:`ExternalModel`."""
    if isinstance(model, LatentModel) and not kwargs:
        return model
    return ExternalModel(model, **kwargs)


# -- placing data without an encoder ---------------------------------------------------------
def grid_search_codes(model: LatentModel, items: torch.Tensor, *, extent: float = 3.0,
                      steps: int | None = None, chunk: int = 1024) -> torch.Tensor:
    """The codes ``[N, D]`` whose decodings are nearest (squared error) to ``items`` ``[N, ...]``.

    For models without an encoder, with a latent of 3 or fewer dimensions: every code of a
    regular grid over ``[-extent, extent]^D`` is decoded once and each item takes the nearest
    decoding's code. ``steps`` per axis defaults to 61, 41 or 21 for 1, 2 or 3 dimensions.
    """
    dim = model.config.latent_dim
    if dim > 3:
        raise LatentLabError(f"placing data by grid search needs a latent of 3 or fewer dimensions; "
                             f"this model has {dim}")
    steps = steps or {1: 61, 2: 41, 3: 21}[dim]
    if steps < 2 or steps ** dim > MAX_GRID_POINTS:
        raise LatentLabError(f"a grid search takes 2 to {int(MAX_GRID_POINTS ** (1 / dim))} steps per axis "
                             f"for {dim} dimensions, got {steps}")
    if not (math.isfinite(extent) and extent > 0):
        raise LatentLabError(f"the search extent must be a positive number, got {extent}")
    shape = tuple(model.config.input_shape)
    if tuple(items.shape[1:]) != shape:
        raise LatentLabError(f"items of shape {tuple(items.shape[1:])} do not match the model's {shape}")
    axis = torch.linspace(-extent, extent, steps)
    grid = torch.cartesian_prod(*([axis] * dim)).reshape(-1, dim)
    flat = items.reshape(len(items), -1).to(torch.float32)
    best = torch.full((len(items),), float("inf"))
    best_code = torch.zeros(len(items), dim)
    with torch.inference_mode():
        for start in range(0, len(grid), chunk):
            codes = grid[start:start + chunk]
            decoded = model.decode_image(codes.to(model.device)).to("cpu", torch.float32).reshape(len(codes), -1)
            dist = torch.cdist(flat, decoded) ** 2
            d, k = dist.min(1)
            better = d < best
            best[better] = d[better]
            best_code[better] = codes[k[better]]
    return best_code


# -- saving what can be saved ----------------------------------------------------------------
def save_refusal(model: Any) -> str | None:
    """Why ``model`` cannot be saved as a LatentLab model file, or None when it can.

    The one wording for every face: :func:`latentlab.api.save_model` raises it, the app shows it.
    """
    if not is_external(model):
        return None
    return (f"{model.name} wraps code of your own, which LatentLab cannot store in a model file. "
            "Save its weights with latentlab.save_weights(model, 'weights.safetensors') and keep the "
            "code that builds it; or, for an ONNX model, keep its .onnx files. Models trained by "
            "LatentLab (latentlab.train) save normally.")


def save_weights(model: ExternalModel, path: str | os.PathLike[str]) -> None:
    """Write the torch weights of a wrapped model as one safetensors file (atomically).

    The code that builds the module is the person's own: rebuild it, then
    ``module.load_state_dict(safetensors.torch.load_file(path))`` (keys as ``module.state_dict()``).
    """
    import safetensors.torch

    from latentlab.core.atomic_file import atomic_write

    if not isinstance(model, ExternalModel):
        raise LatentLabError("save_weights is for wrapped models; save a LatentLab model with save_model")
    parts = dict(model.parts.named_children())
    source = parts.get("module") or parts.get("decoder_module")
    state: dict[str, torch.Tensor] = {}
    if "module" in parts:
        state = dict(parts["module"].state_dict())
    else:
        for key, part in parts.items():
            state.update({f"{key.removesuffix('_module')}.{k}": v for k, v in part.state_dict().items()})
    if source is None or not state:
        raise LatentLabError(f"{model.name} holds no torch weights to save (an ONNX model's weights are its files)")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    data = safetensors.torch.save(tensors)
    atomic_write(path, lambda f: f.write(data))
