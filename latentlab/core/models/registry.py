"""The family registry: every model family declares itself here, and everything else reads it.

A family is one module under ``latentlab/core/models/`` that defines ``FAMILY``, a
:class:`Family`: its name, title and one-line description, what it can do
(:class:`Capabilities`), its defaults and own options, how to build its model, which
optimisers it trains with and what one training step does. The trainer, the command line, the
training plan, the metrics and the docs ask the registry; none of them names a family.

Adding a family is one module plus one entry in :data:`BUILTIN_MODULES`; code that brings its
own (a plug-in, a test) calls :func:`register`.

This module and the family declarations import no torch: the desktop app lists the families
before torch has loaded. Families build their networks with a local import in ``build``.
"""

from __future__ import annotations

import importlib
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from latentlab.core.errors import LatentLabError

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.base import LatentModel
    from latentlab.core.models.config import ModelConfig
    from latentlab.core.training_types import TrainConfig

__all__ = [
    "ARCHITECTURES", "BUILTIN_MODULES", "DEFAULT_HIDDEN", "DEFAULT_TERMS", "LIKELIHOODS", "MAIN_OPTIMIZER",
    "OUTPUT_KINDS", "Capabilities", "Family", "Option", "StepContext", "adam_optimizer", "check_input_shape",
    "families", "family_table", "get", "minimise", "names", "register", "reconstruction_step",
    "unregister",
]

#: The family modules shipped with LatentLab, in the order menus list them.
BUILTIN_MODULES = ("ae", "vae", "beta_vae", "cvae", "pca", "gan", "vae_gan", "ssvae", "seq_vae", "rvae",
                   "stream_ae")

OUTPUT_KINDS = ("image", "sequence")
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
#: Hidden layer widths (MLP) or channel counts (conv) when neither settings nor family name any.
DEFAULT_HIDDEN: dict[str, tuple[int, ...]] = {"mlp": (400,), "conv": (32, 64)}
#: The terms of the autoencoder families: the minimised loss, reconstruction NLL and KL.
DEFAULT_TERMS = ("loss", "recon", "kl")
#: The name of the one optimiser of a family that does not declare its own.
MAIN_OPTIMIZER = "model"
#: ModelConfig settings every family may read (``Family.settings`` says which it does).
COMMON_SETTINGS = ("arch", "hidden", "likelihood", "beta", "kl_warmup_epochs")
# History entries already use these keys; a schedule value must not overwrite them.
_HISTORY_KEYS = frozenset({"epoch", "train", "val", "images_per_s", "seconds"})
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Capabilities:
    """What a family's models can do; the app shows and enables features from these.

    ``encoder``: maps data to codes (a GAN has none). ``variational``: a posterior with a KL
    term (so −ELBO is meaningful). ``conditional``: encoder and decoder take a class label.
    ``adversarial``: trained against a discriminator. ``classifies``: also predicts labels.
    ``output``: what the decoder makes, ``"image"`` (``[C, H, W]``) or ``"sequence"``
    (``[T, F]``). ``trainable``: False for a closed-form fit (``model.fit``) instead of steps.
    """

    encoder: bool = True
    variational: bool = False
    conditional: bool = False
    adversarial: bool = False
    classifies: bool = False
    output: str = "image"
    trainable: bool = True

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {self.output!r} (choose from {', '.join(OUTPUT_KINDS)})")

    @property
    def uses_labels(self) -> bool:
        """Whether training hands the data's labels to the family's step."""
        return self.conditional or self.classifies

    def describe(self) -> str:
        """A short human list, e.g. ``"encoder, variational, image output"``."""
        flags = ("encoder", "variational", "conditional", "adversarial", "classifies")
        words = [*(flag for flag in flags if getattr(self, flag)), f"{self.output} output"]
        if not self.trainable:
            words.append("fitted in closed form")
        return ", ".join(words)


@dataclass(frozen=True)
class Option:
    """A family's own model setting, stored in ``ModelConfig.options`` (JSON round-trip).

    The type is the default's: bool, int, float or str. ``choices`` limits a str option;
    ``minimum``/``maximum`` bound a number. ``absent`` is what a saved configuration without
    the option means: the value models saved before the option existed were trained with,
    when that is not the default a new model gets (``None``: the default).
    """

    name: str
    default: bool | int | float | str
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    absent: bool | int | float | str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name.replace("_", "-")):
            raise ValueError(f"option name {self.name!r} must be lower case letters, digits, '_' or '-'")
        object.__setattr__(self, "choices", tuple(self.choices))
        self.check(self.default)
        if self.absent is not None:
            self.check(self.absent)

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> bool | int | float | str:
        """``value`` as this option's type, or LatentLabError saying what is wrong."""
        kind = self.kind
        bad = LatentLabError(f"option '{self.name}' must be {_KIND_WORDS[kind]}, got {value!r}")
        if kind is bool:
            if not isinstance(value, bool):
                raise bad
            return value
        if kind is str:
            if not isinstance(value, str):
                raise bad
            if self.choices and value not in self.choices:
                raise LatentLabError(f"option '{self.name}' must be one of {', '.join(self.choices)}, got '{value}'")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad
        if self.minimum is not None and value < self.minimum:
            raise LatentLabError(f"option '{self.name}' must be at least {self.minimum:g}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise LatentLabError(f"option '{self.name}' must be at most {self.maximum:g}, got {value}")
        return value

    def parse(self, text: str) -> bool | int | float | str:
        """The option's value from command-line text (``true``/``false`` for a switch)."""
        kind = self.kind
        if kind is str:
            return self.check(text)
        if kind is bool:
            words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
            if text.strip().lower() not in words:
                raise LatentLabError(f"option '{self.name}' must be true or false, got '{text}'")
            return words[text.strip().lower()]
        try:
            value: int | float = int(text) if kind is int else float(text)
        except ValueError:
            raise LatentLabError(f"option '{self.name}' must be {_KIND_WORDS[kind]}, got '{text}'") from None
        return self.check(value)


_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


@dataclass(frozen=True)
class StepContext:
    """Where a training step falls: what a family's step (and schedule) may depend on.

    ``epoch`` is 1-based; ``step_in_epoch`` counts the epoch's steps before this one (0 for
    its first; ``steps_per_epoch`` once the epoch is over); ``global_step`` counts every
    optimiser step of the run before this one.
    """

    epoch: int
    epochs: int
    step_in_epoch: int
    steps_per_epoch: int
    global_step: int

    @property
    def epochs_done(self) -> float:
        """Fraction of training done, in epochs (1.5 = half-way through the second epoch)."""
        return self.epoch - 1 + self.step_in_epoch / self.steps_per_epoch


# -- the default behaviour of a family -------------------------------------------------------
def adam_optimizer(model: LatentModel, train_config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    """One fused Adam over every parameter, named :data:`MAIN_OPTIMIZER`."""
    from latentlab.core import device

    lr = train_config.lr_for(MAIN_OPTIMIZER)
    return {MAIN_OPTIMIZER: device.make_optimizer(list(model.parameters()), lr)}


def minimise(loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
    """Clear the optimisers' gradients, backpropagate ``loss`` and step each of them.

    Under fp16 training the trainer lends a loss scaler (:mod:`latentlab.core.precision`):
    the loss is then scaled before the backward pass and each step goes through the scaler.
    """
    from latentlab.core.precision import active_scaler

    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    scaler = active_scaler()
    if scaler is None:
        loss.backward()
        for opt in optimizers:
            opt.step()
        return
    scaler.scale(loss).backward()
    for opt in optimizers:
        scaler.step(opt)


def reconstruction_step(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None,
                        optimizers: Mapping[str, torch.optim.Optimizer],
                        ctx: StepContext) -> dict[str, torch.Tensor]:
    """The default step: ``model.loss(x, y)``, then minimise its ``"loss"`` with every optimiser."""
    out = model.loss(x, y)
    minimise(out["loss"], *optimizers.values())
    return out


def check_input_shape(config: ModelConfig) -> None:
    """The default shape check, by output kind: ``(C, H, W)`` images or ``(T, F)`` sequences."""
    caps = get(config.family).capabilities
    shape = config.input_shape
    if caps.output == "image":
        if len(shape) != 3:
            raise LatentLabError(f"input shape must be (C, H, W) with positive sizes, got {shape}")
        if shape[0] not in (1, 3):
            raise LatentLabError(f"images must have 1 or 3 channels, got {shape[0]}")
        if config.feature_names:
            raise LatentLabError("feature names belong to sequence models; an image model has none")
    else:
        if len(shape) != 2:
            raise LatentLabError(f"a sequence's shape must be (T, F): steps and features, got {shape}")
        if config.feature_names and len(config.feature_names) != shape[1]:
            raise LatentLabError(
                f"a sequence with {shape[1]} features needs {shape[1]} feature names, "
                f"got {len(config.feature_names)}")


# -- the family ------------------------------------------------------------------------------
StepFn = Callable[..., "dict[str, torch.Tensor]"]


@dataclass(frozen=True)
class Family:
    """One model family: what it is, what it can do, and how it trains.

    Parameters
    ----------
    name:
        The key in files and on the command line (``"beta-vae"``): lower case, digits, ``-``.
    title, description:
        For people: ``"β-VAE"`` and one line saying what it is.
    capabilities:
        See :class:`Capabilities`.
    build:
        ``build(config) -> LatentModel``: a freshly initialised model (a class will do).
    defaults:
        Default settings for a new model: ``"beta"``, and ``"hidden"`` as a dict per
        architecture (see :meth:`default`, :meth:`default_hidden`).
    settings:
        The common settings (:data:`COMMON_SETTINGS`) its models read; the rest are ignored.
    options:
        Its own settings (:class:`Option`), kept in ``ModelConfig.options``.
    archs, likelihoods:
        The architectures and likelihoods it offers.
    terms:
        Names of the scalar terms its step reports; the first is the minimised loss.
    optimizer_names:
        The keys of the dict ``optimizers`` returns (each may get its own learning rate).
    optimizers:
        ``optimizers(model, train_config) -> {name: Optimizer}``; default one fused Adam.
    train_step:
        ``train_step(model, x, y, optimizers, ctx) -> {term: scalar tensor}``: one step, which
        zeroes, backpropagates and steps its optimisers itself and returns (not reads back)
        every term of ``terms``. ``y`` is None unless the capabilities use labels.
    validate:
        ``validate(model, images, labels, *, batch_size) -> {term: float}`` in eval mode;
        None (the default): :func:`latentlab.core.metrics.loss_terms` of ``model.loss``.
    schedule:
        ``schedule(model, ctx) -> {name: float}``: values that change during training (e.g.
        ``kl_weight``), recorded in the history at the end of each epoch; None for none.
    check_config:
        ``check_config(config)`` raises LatentLabError for settings the family cannot take;
        default :func:`check_input_shape`.
    cpu_bfloat16:
        True when its training is worth running in bfloat16 on a CPU with native bfloat16
        arithmetic: the precision ``"auto"`` then picks it there (see
        :func:`latentlab.core.precision.resolve`). Declare it only with sample quality measured
        the same in both precisions.
    """

    name: str
    title: str
    description: str
    capabilities: Capabilities
    build: Callable[[ModelConfig], LatentModel]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    settings: tuple[str, ...] = ("arch", "hidden", "likelihood")
    options: tuple[Option, ...] = ()
    archs: tuple[str, ...] = ARCHITECTURES
    likelihoods: tuple[str, ...] = LIKELIHOODS
    terms: tuple[str, ...] = DEFAULT_TERMS
    optimizer_names: tuple[str, ...] = (MAIN_OPTIMIZER,)
    optimizers: Callable[[LatentModel, TrainConfig], dict[str, torch.optim.Optimizer]] = adam_optimizer
    train_step: StepFn = reconstruction_step
    validate: Callable[..., dict[str, float]] | None = None
    schedule: Callable[[LatentModel, StepContext], dict[str, float]] | None = None
    check_config: Callable[[ModelConfig], None] = check_input_shape
    cpu_bfloat16: bool = False

    def __post_init__(self) -> None:
        for name in ("settings", "options", "archs", "likelihoods", "terms", "optimizer_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "defaults", dict(self.defaults))
        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name {self.name!r} must be lower case letters and digits joined by '-'")
        if not self.title.strip() or not self.description.strip() or "\n" in self.description:
            problems.append("title and a one-line description are required")
        if not self.terms or len(set(self.terms)) != len(self.terms):
            problems.append(f"terms must be distinct names, the minimised loss first; got {self.terms}")
        if not self.optimizer_names or len(set(self.optimizer_names)) != len(self.optimizer_names):
            problems.append(f"optimizer_names must be distinct names; got {self.optimizer_names}")
        unknown = sorted(set(self.settings) - set(COMMON_SETTINGS))
        if unknown:
            problems.append(f"unknown settings {unknown} (choose from {', '.join(COMMON_SETTINGS)})")
        if not self.archs or not self.likelihoods:
            problems.append("at least one architecture and one likelihood are required")
        if len({o.name for o in self.options}) != len(self.options):
            problems.append("option names must be distinct")
        if not isinstance(self.defaults.get("hidden", {}), Mapping):
            problems.append("defaults['hidden'] must map architectures to layer sizes")
        if problems:
            raise ValueError(f"family {self.name!r}: " + "; ".join(problems))

    # -- defaults and options ------------------------------------------------------------
    def default(self, key: str, fallback: Any = None) -> Any:
        """The family's default for setting ``key`` (``fallback`` when it names none)."""
        return self.defaults.get(key, fallback)

    def default_hidden(self, arch: str) -> tuple[int, ...]:
        """Hidden widths (MLP) or channels (conv) of a new model with architecture ``arch``."""
        own = self.defaults.get("hidden") or {}
        return tuple(own.get(arch) or DEFAULT_HIDDEN.get(arch, DEFAULT_HIDDEN["mlp"]))

    def option(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        known = ", ".join(o.name for o in self.options)
        raise LatentLabError(f"the {self.name} family has no option '{name}'"
                             + (f" (its options: {known})" if known else " (it has no options)"))

    def check_options(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every option of this family: the given values checked, the rest at their defaults."""
        given = {} if given is None else given
        if not isinstance(given, Mapping):
            raise LatentLabError(f"model options must be a mapping of names to values, got {given!r}")
        for name in given:
            self.option(str(name))  # unknown names: one clear error listing the real ones
        return {o.name: o.check(given[o.name]) if o.name in given else o.default for o in self.options}

    def saved_options(self, saved: Mapping[str, Any]) -> Mapping[str, Any]:
        """Options read from a saved configuration, each missing one at what its absence
        means (:attr:`Option.absent`), so a file written before an option existed opens as
        the model it was trained as; other values are left for :meth:`check_options`."""
        if not isinstance(saved, Mapping):
            return saved
        missing = {o.name: o.absent for o in self.options if o.absent is not None and o.name not in saved}
        return {**saved, **missing} if missing else saved

    def schedule_values(self, model: LatentModel, ctx: StepContext) -> dict[str, float]:
        """The schedule's values at ``ctx`` (empty without a schedule), checked."""
        if self.schedule is None:
            return {}
        values = {str(k): float(v) for k, v in self.schedule(model, ctx).items()}
        clash = sorted(set(values) & _HISTORY_KEYS)
        if clash:
            raise LatentLabError(f"the {self.name} family's schedule reports reserved names: {', '.join(clash)}")
        return values


# -- the registry ----------------------------------------------------------------------------
_lock = threading.RLock()
_families: dict[str, Family] = {}
_builtins_loaded = False
_builtin: dict[str, Family] = {}


def _load_builtins() -> None:
    global _builtins_loaded
    with _lock:
        if _builtins_loaded:
            return
        loaded = {}
        for module in BUILTIN_MODULES:
            family = importlib.import_module(f"latentlab.core.models.{module}").FAMILY
            loaded[family.name] = family
        _families.update(loaded)
        _builtin.update(loaded)
        _builtins_loaded = True


def register(family: Family, *, replace: bool = False) -> Family:
    """Add ``family`` to the registry (``replace=True`` swaps out one of the same name)."""
    if not isinstance(family, Family):
        raise TypeError(f"register() takes a Family, got {type(family).__name__}")
    _load_builtins()
    with _lock:
        if family.name in _families and not replace and _families[family.name] is not family:
            raise ValueError(f"a family named {family.name!r} is already registered")
        _families[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family added with :func:`register` (for tests and plug-ins that unload)."""
    _load_builtins()
    with _lock:
        _families.pop(name, None)


def is_builtin(name: str) -> bool:
    """Whether ``name`` is one of LatentLab's own families (not one registered at run time,
    nor a built-in replaced by one)."""
    _load_builtins()
    with _lock:
        family = _families.get(name) if isinstance(name, str) else None
        return family is not None and _builtin.get(name) is family


def get(name: str) -> Family:
    """The family called ``name``; LatentLabError listing the known ones for any other name."""
    _load_builtins()
    family = _families.get(name) if isinstance(name, str) else None
    if family is None:
        raise LatentLabError(f"unknown model family '{name}' (choose from {', '.join(names())})")
    return family


def names() -> tuple[str, ...]:
    """Names of the registered families: the built-ins in menu order, then registered ones."""
    _load_builtins()
    with _lock:
        return tuple(_families)


def families() -> tuple[Family, ...]:
    """The registered families, in the order of :func:`names`."""
    _load_builtins()
    with _lock:
        return tuple(_families.values())


def family_table(chosen: Iterable[Family] | None = None) -> str:
    """A Markdown table of families (default: the built-ins): name, title, description, capabilities.

    README.md's "Model families" section holds this table for the built-in families.
    """
    rows = list(chosen) if chosen is not None else [get(_builtin_name(m)) for m in BUILTIN_MODULES]
    lines = ["| name | title | description | capabilities |", "| --- | --- | --- | --- |"]
    lines += [f"| `{f.name}` | {f.title} | {f.description} | {f.capabilities.describe()} |" for f in rows]
    return "\n".join(lines)


def _builtin_name(module: str) -> str:
    return importlib.import_module(f"latentlab.core.models.{module}").FAMILY.name
