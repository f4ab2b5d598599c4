"""Inference for every face of LatentLab: encode, decode and "does this model fit this data".

The desktop app, the command line and scripts all go through these functions, so there is one
place that builds labels for conditional models, enters ``torch.inference_mode`` (grad mode is
per thread: it is entered here, on the thread that computes) and chunks a large data set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel, ModelConfig

__all__ = [
    "ENCODE_CHUNK",
    "check_compatible",
    "class_index",
    "condition_labels",
    "decode",
    "encode",
    "encode_dataset",
    "encode_dataset_with_errors",
    "fits",
    "kl_per_dim",
    "incompatibility",
    "model_from_state",
]

ENCODE_CHUNK = 512   # rows per step of encode_dataset; the cancel check runs between chunks


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(v) for v in shape)


def incompatibility(config: ModelConfig, data: Dataset) -> str | None:
    """Why a model of ``config`` cannot take ``data`` (a sentence a person can act on), or None."""
    expected = tuple(config.input_shape)
    if tuple(data.shape) != expected:
        return (f"The model expects items of shape {_shape_text(expected)}, but data set "
                f"'{data.name}' has {_shape_text(tuple(data.shape))}. Choose data of that size "
                f"(e.g. with the image size and colour options) or train a new model on it.")
    if config.is_conditional:
        if data.labels is None:
            return (f"This conditional model needs class labels, but data set '{data.name}' has none. "
                    "Choose labelled data or another model family.")
        if len(data) and (int(data.labels.min()) < 0 or int(data.labels.max()) >= config.num_classes):
            return (f"Data set '{data.name}' has labels outside 0..{config.num_classes - 1}, the classes "
                    "this conditional model was set up for.")
    return None


def fits(config: ModelConfig, data: Dataset | None) -> bool:
    """Whether a model of ``config`` can encode (and train on) ``data``."""
    return data is not None and incompatibility(config, data) is None


def check_compatible(config: ModelConfig, data: Dataset) -> None:
    """Raise :class:`LatentLabError` when a model of ``config`` cannot take ``data``."""
    problem = incompatibility(config, data)
    if problem is not None:
        raise LatentLabError(problem)


def model_from_state(config: ModelConfig, state: Mapping[str, torch.Tensor]) -> LatentModel:
    """A CPU model of ``config`` in eval mode holding ``state`` (e.g. a training snapshot)."""
    from latentlab.core.models import build_model

    model = build_model(config)
    model.load_state_dict(dict(state))
    return model.eval()


def class_index(config: ModelConfig, text: str | int) -> int:
    """The class a person named (its name, or its number as text) of a conditional model."""
    names = list(config.label_names) or [str(i) for i in range(config.num_classes)]
    text = str(text)
    if text in names:
        return names.index(text)
    try:
        k = int(text)
    except ValueError:
        raise LatentLabError(f"unknown class '{text}'; choose from {', '.join(names)}") from None
    if not 0 <= k < config.num_classes:
        raise LatentLabError(f"unknown class '{text}'; choose from {', '.join(names)} "
                             f"(or a number 0..{config.num_classes - 1})")
    return k


def condition_labels(config: ModelConfig, condition: int | torch.Tensor | np.ndarray | None,
                     n: int) -> torch.Tensor | None:
    """Labels ``[n]`` for a conditional model (one class for all, or one per item); None otherwise."""
    if not config.is_conditional:
        return None
    if condition is None:
        raise LatentLabError("This conditional model needs a class to decode with; choose one.")
    y = torch.as_tensor(np.asarray(condition) if isinstance(condition, np.ndarray) else condition)
    y = y.to(torch.int64)
    if y.ndim == 0:
        y = y.expand(n)
    return y


def _tensor(values: torch.Tensor | np.ndarray) -> torch.Tensor:
    """float32 tensor of ``values``; a read-only array (e.g. a state value's) is copied first."""
    if isinstance(values, torch.Tensor):
        return values
    array = np.asarray(values, dtype=np.float32)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, dtype=np.float32, order="C")
    return torch.from_numpy(array)


def encode(model: LatentModel, images: torch.Tensor | np.ndarray,
           labels: int | torch.Tensor | np.ndarray | None = None) -> np.ndarray:
    """Latent means ``[N, D]`` (float32 numpy) of a few items ``[N, ...]``.

    A conditional model needs ``labels`` (one class for all items or one per item). A model
    without an encoder (a GAN) finds its codes by inverting the generator (:mod:`inversion`).
    """
    x = _tensor(images)
    if not model.config.capabilities.encoder:
        from latentlab.core.inversion import invert

        found = invert(model, x)
        assert found is not None  # no stop callback: it always completes
        return found.codes
    x = x.to(model.device, torch.float32)
    y = condition_labels(model.config, labels, len(x))
    with torch.inference_mode():
        mu, _ = model.encode(x, y)
    return mu.to("cpu", torch.float32).numpy()


def encode_dataset(model: LatentModel, data: Dataset, *, chunk: int = ENCODE_CHUNK,
                   should_stop: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray | None:
    """Latent means ``[N, D]`` (float32 numpy) of every item of ``data``, in chunks.

    ``should_stop()`` is asked between chunks: True ends the work and returns None.
    ``progress(done, total)`` is called after each chunk. Raises :class:`LatentLabError` when the
    model cannot take the data. A model without an encoder (a GAN) is inverted instead (see
    :func:`encode_dataset_with_errors`, which also returns how well each item is reproduced).
    """
    if not model.config.capabilities.encoder:
        found = encode_dataset_with_errors(model, data, chunk=chunk, should_stop=should_stop, progress=progress)
        return None if found is None else found[0]
    found = _encode_chunks(model, data, chunk, should_stop, progress, with_logvar=False)
    return None if found is None else found[0]


def encode_dataset_posterior(model: LatentModel, data: Dataset, *, chunk: int = ENCODE_CHUNK,
                             should_stop: Callable[[], bool] | None = None,
                             progress: Callable[[int, int], None] | None = None
                             ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Latent means and log-variances ``([N, D], [N, D] or None)`` of every item, in chunks.

    The log-variances are None for a model without them (an autoencoder, PCA) and for a model
    without an encoder, whose means are found by inversion. None when ``should_stop()`` says so.
    ``progress(done, total)`` is called after each chunk, as in :func:`encode_dataset`.
    """
    if not model.config.capabilities.encoder:
        codes = encode_dataset(model, data, chunk=chunk, should_stop=should_stop, progress=progress)
        return None if codes is None else (codes, None)
    return _encode_chunks(model, data, chunk, should_stop, progress, with_logvar=True)


def _encode_chunks(model: LatentModel, data: Dataset, chunk: int, should_stop: Callable[[], bool] | None,
                   progress: Callable[[int, int], None] | None, *, with_logvar: bool
                   ) -> tuple[np.ndarray, np.ndarray | None] | None:
    check_compatible(model.config, data)
    labels = data.labels if model.config.is_conditional else None
    means: list[np.ndarray] = []
    logvars: list[np.ndarray] | None = [] if with_logvar else None
    total = len(data)
    device = model.device
    with torch.inference_mode():
        for start in range(0, total, chunk):
            if should_stop is not None and should_stop():
                return None
            x = data.images[start:start + chunk].to(device)
            y = None if labels is None else labels[start:start + chunk].to(device)
            mu, logvar = model.encode(x, y)
            means.append(mu.to("cpu", torch.float32).numpy())
            if logvars is not None:
                if logvar is None:
                    logvars = None
                else:
                    logvars.append(logvar.to("cpu", torch.float32).numpy())
            if progress is not None:
                progress(min(total, start + chunk), total)
    dim = model.config.latent_dim
    mu_all = np.concatenate(means) if means else np.zeros((0, dim), np.float32)
    if logvars is None:
        return mu_all, None
    return mu_all, (np.concatenate(logvars) if logvars else np.zeros((0, dim), np.float32))


def encode_dataset_with_errors(
        model: LatentModel, data: Dataset, *, chunk: int = ENCODE_CHUNK,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Codes ``[N, D]`` and, for a model without an encoder, each item's RMS pixel error ``[N]``.

    A GAN's codes come from inverting its generator (:func:`latentlab.core.inversion.invert`);
    the errors (images in [0, 1]) say how closely the generator reproduces each item, e.g. to
    shade its dot. A model with an encoder returns its latent means and ``None``. Stopping
    and progress work as in :func:`encode_dataset`; None when stopped.
    """
    if model.config.capabilities.encoder:
        codes = encode_dataset(model, data, chunk=chunk, should_stop=should_stop, progress=progress)
        return None if codes is None else (codes, None)
    from latentlab.core.inversion import invert_dataset

    check_compatible(model.config, data)
    found = invert_dataset(model, data, chunk=chunk, should_stop=should_stop, progress=progress)
    return None if found is None else (found.codes, found.errors)


def decode(model: LatentModel, codes: torch.Tensor | np.ndarray,
           condition: int | torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Decoded outputs of codes ``[K, D]`` (or one code ``[D]`` → ``[1, ...]``) on the CPU.

    Images come back as float ``[K, C, H, W]`` in [0, 1]. A conditional model decodes under
    ``condition`` (one class for all codes, or one per code).
    """
    z = torch.atleast_2d(_tensor(codes)).to(model.device, torch.float32)
    y = condition_labels(model.config, condition, len(z))
    if y is not None:
        y = y.to(model.device)
    with torch.inference_mode():
        out = model.decode_image(z, y)
    return out.to("cpu", torch.float32)


def kl_per_dim(model: LatentModel, data: Dataset, limit: int = 512) -> np.ndarray:
    """Mean KL of each latent dimension ``[D]`` over the first ``limit`` items (zeros without a KL)."""
    check_compatible(model.config, data)
    n = min(limit, len(data))
    y = data.labels[:n].to(model.device) if model.config.is_conditional else None
    with torch.inference_mode():
        kl = model.kl_per_dim(data.images[:n].to(model.device), y)
    return kl.to("cpu", torch.float32).numpy()
