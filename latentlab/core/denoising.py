"""One image corrupted and cleaned by a model: what a person looks at to judge a denoiser.

:func:`denoise_image` corrupts one clean image with noise of an exact level (a
:class:`~latentlab.core.models.denoise.NoiseSpec` read with ``fixed=True``), drawn from a CPU
generator seeded with ``seed``, so the same seed gives the same noise pattern at every level
(a slider changes how strong the noise is, not where it falls). The model reconstructs the
noisy image; the result holds the three images, the PSNR of the noisy and of the denoised
image against the clean one (:func:`latentlab.core.compress.psnr`) and the codes of the clean
and the noisy image. The noise and the reconstruction are those of
:func:`latentlab.core.metrics.denoising_psnr`, so an image measured here and there with the
same spec and seed gets the same numbers.

:func:`unusable_reason` says, in a sentence, why a model cannot be shown this way (no encoder,
outputs that are not images); :func:`training_note` says whether it was trained to denoise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentlab.core import inference
from latentlab.core.compress import psnr
from latentlab.core.errors import LatentLabError
from latentlab.core.models.denoise import NoiseSpec, corrupt, noise_of

__all__ = ["NOT_TRAINED_NOTE", "DenoiseResult", "denoise_image", "training_note", "unusable_reason"]

NOT_TRAINED_NOTE = ("This model was not trained with noise; results show its plain reconstruction "
                    "of a noisy input.")


@dataclass(frozen=True)
class DenoiseResult:
    """One image through noise and the model.

    ``clean``, ``noisy`` and ``denoised`` are float32 ``[C, H, W]`` in [0, 1]; ``psnr_noisy``
    and ``psnr_denoised`` are in dB against ``clean`` (``inf`` when identical); ``z_clean``
    and ``z_noisy`` are the latent means ``[D]`` of the clean and the noisy image.
    """

    spec: NoiseSpec
    seed: int
    clean: np.ndarray
    noisy: np.ndarray
    denoised: np.ndarray
    psnr_noisy: float
    psnr_denoised: float
    z_clean: np.ndarray
    z_noisy: np.ndarray


def unusable_reason(config: Any) -> str | None:
    """Why a model of ``config`` cannot denoise an image, or None when it can."""
    family = config.family_info
    caps = family.capabilities
    if caps.output != "image":
        return (f"Denoising needs a model of images; this {family.title} model makes {caps.output}s, "
                "so there is no image to corrupt.")
    if not caps.encoder:
        return (f"Denoising needs a model with an encoder; a {family.title} has none (it only generates "
                "images), so it cannot take a noisy image in.")
    return None


def training_note(config: Any) -> str:
    """A line on how the model was trained: with which noise, or :data:`NOT_TRAINED_NOTE`."""
    spec = noise_of(config)
    if spec is None:
        return NOT_TRAINED_NOTE
    return f"This model was trained to denoise {spec} (a level drawn per image up to {spec.level:g})."


def denoise_image(model: Any, image: torch.Tensor | np.ndarray, spec: NoiseSpec, *, seed: int = 0,
                  label: int | None = None) -> DenoiseResult:
    """Corrupt ``image`` ``[C, H, W]`` (in [0, 1]) with noise of exactly ``spec.level`` and let
    ``model`` reconstruct it (see the module doc). ``label`` is the class a conditional model
    encodes and decodes with. A model that cannot do it, or an image of another shape, is a
    :class:`LatentLabError`.
    """
    config = model.config
    reason = unusable_reason(config)
    if reason is not None:
        raise LatentLabError(reason)
    if isinstance(image, torch.Tensor):
        clean = image.detach().to("cpu", torch.float32).clone()
    else:
        clean = torch.from_numpy(np.array(image, dtype=np.float32))
    if tuple(clean.shape) != tuple(config.input_shape):
        raise LatentLabError(f"this model takes images of shape {tuple(config.input_shape)}, "
                             f"not {tuple(clean.shape)}")
    clean = clean[None]
    # The same draw as metrics.denoising_psnr: a CPU generator seeded afresh for each image.
    generator = torch.Generator().manual_seed(int(seed))
    noisy = corrupt(clean, spec, fixed=True, generator=generator)
    codes = inference.encode(model, torch.cat([clean, noisy]), label)
    y = inference.condition_labels(config, label, 1)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            denoised = model.reconstruct(noisy.to(model.device), None if y is None else y.to(model.device))
    finally:
        model.train(was_training)
    denoised = denoised.to("cpu", torch.float32)
    return DenoiseResult(
        spec=spec, seed=int(seed), clean=clean[0].numpy(), noisy=noisy[0].numpy(), denoised=denoised[0].numpy(),
        psnr_noisy=float(psnr(noisy, clean)[0]), psnr_denoised=float(psnr(denoised, clean)[0]),
        z_clean=codes[0], z_noisy=codes[1])
