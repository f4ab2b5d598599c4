"""From a person's training settings to a run: :class:`TrainingSettings` → :class:`TrainingPlan`.

The command line and the desktop app both describe what to train as :class:`TrainingSettings`
and call :func:`plan_training`, so defaults (β, hidden sizes), the checks a person has to act on
(a conditional model needs labels, a continued model needs data it can take) and the numbering of
continued epochs exist once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.inference import incompatibility
from latentlab.core.models import registry
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.registry import DEFAULT_HIDDEN
from latentlab.core.training_settings import TrainingSettings
from latentlab.core.training_types import TrainConfig

__all__ = ["DEFAULT_HIDDEN", "TrainingPlan", "TrainingSettings", "continue_history", "plan_training"]


@dataclass
class TrainingPlan:
    """Everything a training run needs, ready for :func:`latentlab.core.training.train`.

    ``initial`` is the model to continue from (a copy the trainer may own) or None for a new
    one; ``prior_history`` the history it brings. :meth:`full_history` numbers the new epochs
    after the old ones.
    """

    data: Dataset
    model_config: ModelConfig
    train_config: TrainConfig
    initial: LatentModel | None = None
    prior_history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def continues(self) -> bool:
        return self.initial is not None

    @property
    def first_epoch(self) -> int:
        """The number the run's first epoch gets (1 for a new model)."""
        return _last_epoch(self.prior_history) + 1

    def full_history(self, new_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The prior history followed by ``new_history`` renumbered after it."""
        return continue_history(self.prior_history, new_history)


def _last_epoch(history: Sequence[Mapping[str, Any]]) -> int:
    last = 0
    for entry in history:
        epoch = entry.get("epoch") if isinstance(entry, Mapping) else None
        if isinstance(epoch, int) and not isinstance(epoch, bool):
            last = max(last, epoch)
    return last if last else len(history)


def continue_history(prior: Sequence[Mapping[str, Any]],
                     new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``prior`` then ``new`` with the new epochs numbered after the last prior one.

    The one rule for continued training, used by the command line and the desktop app alike:
    a model trained for 10 epochs and continued for 5 has epochs 1…15 in its history.
    """
    offset = _last_epoch(prior)
    out = [dict(h) for h in prior if isinstance(h, Mapping)]
    for k, entry in enumerate(new, start=1):
        epoch = entry.get("epoch", k)
        out.append({**entry, "epoch": offset + (epoch if isinstance(epoch, int) else k)})
    return out


def _model_config(settings: TrainingSettings, data: Dataset) -> ModelConfig:
    family, arch = registry.get(settings.family), settings.arch
    labelled = family.capabilities.uses_labels
    if family.capabilities.conditional and data.labels is None:
        raise LatentLabError(f"A {family.title} needs labelled data; '{data.name}' has no labels.")
    if family.capabilities.output != getattr(data, "kind", "image"):
        raise LatentLabError(f"The {family.title} family models {family.capabilities.output}s, but "
                             f"'{data.name}' holds {getattr(data, 'kind', 'image')}s; choose matching data "
                             "or another family.")
    beta = settings.beta if settings.beta is not None else family.default("beta", 1.0)
    hidden = settings.hidden if settings.hidden else family.default_hidden(arch)
    return ModelConfig(
        family=family.name, arch=arch, input_shape=data.shape, latent_dim=int(settings.latent_dim),
        hidden=tuple(hidden), likelihood=settings.likelihood, beta=float(beta),
        kl_warmup_epochs=int(settings.kl_warmup_epochs),
        num_classes=data.num_classes if labelled and data.labels is not None else 0,
        label_names=data.class_names, feature_names=getattr(data, "feature_names", ()),
        options=_options(settings, family))


def _options(settings: TrainingSettings, family: registry.Family) -> dict[str, Any]:
    """The family options of the settings, with ``denoise`` folded in (checked in one place)."""
    from latentlab.core.models.denoise import parse_noise

    options = dict(settings.options or {})
    if settings.denoise is None:
        return options
    spec = parse_noise(settings.denoise)
    if spec is not None and "denoise" not in {o.name for o in family.options}:
        able = ", ".join(f.name for f in registry.families() if "denoise" in {o.name for o in f.options})
        raise LatentLabError(f"The {family.title} family cannot train as a denoiser (families that can: {able}).")
    if "denoise" in {o.name for o in family.options}:
        options["denoise"] = "" if spec is None else str(spec)
    return options


def _check_labelled(data: Dataset, model_config: ModelConfig, train_config: TrainConfig) -> None:
    """Refuse a number of labels to keep that the training split cannot give, before training."""
    from latentlab.core.partial_labels import check_labelled

    family = registry.get(model_config.family)
    train_idx, _ = data.split(train_config.val_fraction, train_config.seed)
    check_labelled(train_config.labelled or 0, None if data.labels is None else data.labels[train_idx],
                   data.num_classes, family_name=family.name, classifies=family.capabilities.classifies)


def _same_source(data: Dataset, settings: TrainingSettings) -> bool:
    """Whether ``data`` already is what the settings ask for (so a loaded subset stays)."""
    spec = settings.data
    if isinstance(spec, Mapping):
        return dict(spec) == data.source
    src = data.source or {}
    wanted = str(spec)
    named = wanted in (src.get("kind"), data.name, src.get("path"))
    size_ok = settings.image_size in (None, data.shape[1] if len(data.shape) == 3 else None)
    limit_ok = settings.limit in (None, len(data))
    return bool(named and size_ok and limit_ok)


def _trainer_copy(model: LatentModel) -> LatentModel:
    """A separate copy of ``model`` for the trainer: the caller keeps using its own."""
    from latentlab.core.device import cpu_state
    from latentlab.core.models import build_model

    copy = build_model(model.config)
    copy.load_state_dict(cpu_state(model))
    return copy


def plan_training(settings: TrainingSettings, *, data: Dataset | None = None,
                  model: LatentModel | None = None,
                  history: Sequence[Mapping[str, Any]] = (),
                  **train_overrides: Any) -> TrainingPlan:
    """Turn ``settings`` into a :class:`TrainingPlan`.

    ``data`` is the data already loaded (reused when the settings ask for it); ``model`` and
    ``history`` are the current model and its history, continued from when
    ``settings.continue_training``. ``train_overrides`` set further :class:`TrainConfig` fields
    (e.g. ``progress_interval_s``). Raises :class:`LatentLabError` for settings a person must fix.
    """
    if settings.data is not None and (data is None or not _same_source(data, settings)):
        from latentlab.core.data import load_dataset

        data = load_dataset(settings.data, image_size=settings.image_size, color=settings.color,
                            limit=settings.limit)
    if data is None:
        raise LatentLabError("Choose a data set to train on.")
    initial, prior = None, []
    if settings.continue_training:
        if model is None:
            raise LatentLabError("There is no model to continue training; untick 'Continue training' "
                                 "to train a new one.")
        problem = incompatibility(model.config, data)
        if problem is not None:
            raise LatentLabError(f"The loaded model cannot continue on this data. {problem}")
        initial, model_config = _trainer_copy(model), model.config
        if settings.denoise is not None:  # a continued model may change how it is corrupted
            model_config = replace(model_config, options=_options(
                replace(settings, options=model_config.options), model_config.family_info))
        prior = [dict(h) for h in history if isinstance(h, Mapping)]
    else:
        model_config = _model_config(settings, data)
    values = {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
              "seed": settings.seed, "device": settings.device, "threads": settings.threads,
              "val_fraction": settings.val_fraction, "lrs": dict(settings.lrs or {}),
              "labelled": settings.labelled, "precision": settings.precision}
    values.update({k: v for k, v in train_overrides.items() if v is not None})
    train_config = TrainConfig(**values)
    if train_config.labelled is not None:
        _check_labelled(data, model_config, train_config)
    return TrainingPlan(data=data, model_config=model_config, train_config=train_config,
                        initial=initial, prior_history=prior)

