"""Mixed precision and ``torch.compile`` for training: opt-in speed, refused clearly where unsupported.

``precision`` is ``"auto"`` (the default, see :func:`resolve`), ``"fp32"``, ``"bf16"``
(autocast to bfloat16: CUDA, and CPUs, where it is slower on most but saves memory, and
faster on those with native bfloat16 arithmetic) or ``"fp16"`` (autocast to float16 with a
``GradScaler``, CUDA only: float16 gradients underflow without loss scaling, and the CPU has
no scaler). ``"auto"`` is float32, except for a family that declares ``cpu_bfloat16`` (the
adversarial families' small-batch steps, nearly all matrix products) on a CPU with native
bfloat16 arithmetic (AVX-512 BF16 or AMX), where it is bfloat16: their products take half
the time there and their sample quality measured the same (``benchmarks/gan_quality.py``).

A family's step stays unchanged: the trainer runs it under :func:`autocast`, and
:func:`latentlab.core.models.registry.minimise`, the one place the built-in reconstruction
families backpropagate, scales the loss and steps through the scaler while
:func:`scaling` lends it one. A family whose step calls ``backward()`` itself (the
adversarial families, the recurrent VAE) is found out on the first step and refused with
fp16 (bf16 needs no scaler and works for every family).

Conv models of images train in the ``channels_last`` memory format on CUDA
(:func:`memory_format`): cuDNN's convolutions, under mixed precision above all, run fastest on
NHWC tensors. Weights keep their names and values; only their strides differ, and a saved
file is the same.

``compile`` names a ``torch.compile`` backend (``"inductor"`` by default from the command
line; ``"eager"`` and ``"aot_eager"`` check the graph capture without generating code). It
compiles each network the model is made of in place (``Module.compile``), so the weights'
names and the saved file are those of an uncompiled model. Compilation happens on the first
steps; a failure there is one :class:`LatentLabError` that says to train without it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager

import torch
from torch import nn

from latentlab.core.errors import LatentLabError
from latentlab.core.training_settings import PRECISIONS

__all__ = ["PRECISIONS", "autocast", "native_bfloat16", "resolve", "memory_format", "check_compile", "check_precision", "compile_model", "compile_failure",
           "make_scaler", "scaling", "active_scaler"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

_local = threading.local()


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX-512 BF16 or AMX tiles)."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(bool(probe()) for probe in probes if probe is not None)


def resolve(precision: str, device: torch.device, family: Any) -> str:
    """The precision a run of ``family`` on ``device`` trains in: ``precision`` itself, or for
    ``"auto"`` bfloat16 where the family declares ``cpu_bfloat16`` and the device is a CPU with
    :func:`native_bfloat16` arithmetic, else float32."""
    if precision != "auto":
        return precision
    if device.type == "cpu" and getattr(family, "cpu_bfloat16", False) and native_bfloat16():
        return "bf16"
    return "fp32"


def check_precision(precision: str, device: torch.device) -> None:
    """Raise LatentLabError unless ``precision`` (resolved, see :func:`resolve`) can train on ``device``."""
    if precision not in PRECISIONS or precision == "auto":
        raise LatentLabError(f"unknown precision '{precision}'; use {', '.join(PRECISIONS[1:])}")
    if precision == "fp16" and device.type != "cuda":
        raise LatentLabError(f"fp16 training needs a CUDA GPU (it relies on loss scaling there); this run is on "
                             f"{device.type}: use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise LatentLabError("this GPU has no bfloat16 support; use fp16 or fp32")
    if precision != "fp32" and device.type not in ("cpu", "cuda"):
        raise LatentLabError(f"mixed precision is offered on CPU and CUDA, not on {device.type}; use fp32")


def autocast(precision: str, device: torch.device) -> ContextManager[Any]:
    """The autocast context a training step runs in (a no-op for fp32)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def make_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for fp16 on CUDA, else None."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


class _Lent:
    def __init__(self, scaler: torch.amp.GradScaler) -> None:
        self.scaler = scaler
        self.used = False


@contextmanager
def scaling(scaler: torch.amp.GradScaler | None) -> Iterator[_Lent | None]:
    """Lend ``scaler`` to :func:`active_scaler` on this thread for one training step."""
    if scaler is None:
        yield None
        return
    lent = _Lent(scaler)
    previous = getattr(_local, "lent", None)
    _local.lent = lent
    try:
        yield lent
    finally:
        _local.lent = previous


def active_scaler() -> torch.amp.GradScaler | None:
    """The loss scaler lent to this thread's current step (marked as used), or None."""
    lent = getattr(_local, "lent", None)
    if lent is None:
        return None
    lent.used = True
    return lent.scaler


# -- torch.compile ------------------------------------------------------------------------
def memory_format(config: Any, device: torch.device) -> torch.memory_format | None:
    """``torch.channels_last`` for a conv model of images ``[C, H, W]`` on CUDA, else None."""
    shape = tuple(getattr(config, "input_shape", ()) or ())
    if device.type == "cuda" and getattr(config, "arch", "") == "conv" and len(shape) == 3:
        return torch.channels_last
    return None


def check_compile(backend: str) -> None:
    """Raise LatentLabError for a backend torch.compile does not know."""
    import torch._dynamo

    known = set(torch._dynamo.list_backends(exclude_tags=()))
    if backend not in known:
        raise LatentLabError(f"unknown torch.compile backend '{backend}'; this PyTorch has "
                             f"{', '.join(sorted(known))}")


def compile_model(model: nn.Module, backend: str) -> None:
    """Compile each network of ``model`` in place (the weights keep their names)."""
    check_compile(backend)
    for child in model.children():
        if any(True for _ in child.parameters()):
            child.compile(backend=backend)


def compile_failure(exc: BaseException, backend: str) -> LatentLabError | None:
    """A clear error for a failure inside torch.compile, or None when ``exc`` is something else."""
    import torch._dynamo.exc as dynamo_exc

    if isinstance(exc, dynamo_exc.TorchDynamoException) or type(exc).__module__.startswith(
            ("torch._dynamo", "torch._inductor")):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return LatentLabError(f"torch.compile with the {backend} backend failed ({first}); train without --compile")
    return None
