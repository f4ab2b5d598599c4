"""Where and how training runs: device, threads, optimiser, random stream, fast CPU kernels.

The fast linear layer exists because of a measurement, not a hunch. On x86 CPUs PyTorch
sends float32 matrix products to MKL, and MKL picks a narrow (AVX2) code path on non-Intel
processors. oneDNN, which ships inside PyTorch as well, uses the full vector width there:
on the AMD machine the benchmark ran on, a ``128 x 784 x 400`` product took 0.37 ms with
oneDNN against 0.80 ms with MKL, and matrix products are most of an MLP's training step.
:func:`fast_linear_layers` routes the large ``nn.Linear`` products of a model through
oneDNN (same float32 arithmetic, different kernel), forward and backward, and leaves the
small ones, where oneDNN's per-call overhead dominates, to the default path. The route is
taken only where a one-time check finds the oneDNN kernel present and numerically equal to
the default one; :func:`set_fast_linear` switches it off.
"""

from __future__ import annotations

import os
import platform
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.errors import LatentLabError

# Products with fewer multiply-adds than this stay on the default path: below it oneDNN's
# fixed per-call cost (~20 us) eats the gain (measured at 128 x 20 x 400, ~1M MACs).
FAST_LINEAR_MIN_MACS = 1 << 21


# -- devices ---------------------------------------------------------------------------
def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for a user's choice.

    Parameters
    ----------
    name:
        ``"auto"`` (CUDA, then Apple MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
        or ``"mps"``.

    Raises
    ------
    LatentLabError
        For an unknown name or a device this machine does not have.
    """
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise LatentLabError(
            f"unknown device '{name}'; use auto, cpu, cuda, cuda:N (a GPU number) or mps"
        ) from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise LatentLabError(
                f"device '{name}' was asked for, but no CUDA GPU is usable here; use cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise LatentLabError(
                f"device '{name}' does not exist: this machine has {count} CUDA GPU(s), "
                f"numbered 0 to {count - 1}"
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise LatentLabError(
                f"device '{name}' was asked for, but Apple MPS is not available here; use cpu or auto"
            )
        return device
    raise LatentLabError(f"unsupported device '{name}'; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


# -- threads ---------------------------------------------------------------------------
def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Training threads that leave one core to a GUI: ``max(1, cores - 1)``."""
    return max(1, available_cores() - 1)


@contextmanager
def thread_budget(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the old count.

    ``None`` leaves the setting alone. The setting is process-wide, not per thread, so
    anything else computing with torch meanwhile shares the same budget.
    """
    if threads is None:
        yield
        return
    if threads < 1:
        raise LatentLabError(f"threads must be at least 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# -- optimiser, weight copies, start-up --------------------------------------------------
def make_optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam, fused where the parameters' device has the fused kernel, else the default.

    Measured on a CPU: the fused step made the whole training loop 1.5x the canonical one;
    the ``foreach`` variant was slower than the default there.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``model.state_dict()`` that shares no memory with the live tensors."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def all_finite(state: dict[str, torch.Tensor]) -> bool:
    """Whether every floating-point tensor of a state dict is free of NaN and infinity."""
    checks = [torch.isfinite(v).all() for v in state.values() if v.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


_warm_lock = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Pay one-off start-up costs now, e.g. on a background thread while a GUI opens.

    The first Adam optimiser of a process imports ``torch._dynamo`` (over a second), and
    the fast CPU linear check runs once; both would otherwise delay the first training.
    """
    global _warmed
    with _warm_lock:
        if not _warmed:
            make_optimizer([nn.Parameter(torch.zeros(1))], 1e-3)
            fast_linear_supported()
            _warmed = True


# -- fast CPU linear layers --------------------------------------------------------------
_state_lock = threading.Lock()
_fast_linear_enabled = True
_fast_linear_checked: bool | None = None  # None = not probed yet


def set_fast_linear(enabled: bool) -> None:
    """Allow (default) or forbid the oneDNN route of :func:`fast_linear_layers`."""
    global _fast_linear_enabled
    _fast_linear_enabled = bool(enabled)


def fast_linear_supported() -> bool:
    """Whether :func:`fast_linear_layers` will reroute anything on this machine.

    The first call runs a one-off check (a few milliseconds): the oneDNN kernel must exist
    and agree with ``torch.nn.functional.linear`` forward and backward.
    """
    global _fast_linear_checked
    if not _fast_linear_enabled:
        return False
    with _state_lock:
        if _fast_linear_checked is None:
            _fast_linear_checked = _probe_fast_linear()
        return _fast_linear_checked


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` by oneDNN; takes strided (e.g. transposed) operands as they are."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _probe_fast_linear() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False  # elsewhere MKL is not the default, so there is nothing to win
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(64, 96, generator=gen, requires_grad=True)
        w = torch.randn(80, 96, generator=gen, requires_grad=True)
        b = torch.randn(80, generator=gen, requires_grad=True)
        g = torch.randn(64, 80, generator=gen)
        fast = _OneDNNLinear.apply(x, w, b)
        fast_grads = torch.autograd.grad(fast, (x, w, b), g)
        ref = F.linear(x, w, b)
        ref_grads = torch.autograd.grad(ref, (x, w, b), g)
    except Exception:  # noqa: BLE001 - any failure means: keep the default kernel
        return False
    pairs = [(fast, ref), *zip(fast_grads, ref_grads)]
    return all(torch.allclose(a, r, rtol=1e-4, atol=1e-4) for a, r in pairs)


class _OneDNNLinear(torch.autograd.Function):
    """``F.linear`` with oneDNN products in the forward and both backward products."""

    @staticmethod
    def forward(ctx, x, weight, bias):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        # dX = G @ W and dW = G^T @ X, each written as a linear layer over transposed views.
        grad_x = _onednn_linear(grad, weight.t(), None) if need_x else None
        grad_w = _onednn_linear(grad.t(), x.t(), None) if need_w else None
        grad_b = grad.sum(0) if (need_b and ctx.has_bias) else None
        return grad_x, grad_w, grad_b


def _fast_forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    w = self.weight
    if (
        x.dim() == 2
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and w.dtype == torch.float32
        and x.shape[0] * self.in_features * self.out_features >= FAST_LINEAR_MIN_MACS
    ):
        if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
            return _OneDNNLinear.apply(x, w, self.bias)
        return _onednn_linear(x, w, self.bias)
    return F.linear(x, w, self.bias)


@contextmanager
def fast_linear_layers(model: nn.Module) -> Iterator[int]:
    """Inside the block, the model's ``nn.Linear`` layers use oneDNN for large products.

    Only this model instance changes (each layer's ``forward`` is shadowed and restored
    afterwards); weights, ``state_dict`` and results on other devices are untouched.
    Yields the number of layers rerouted (0 where unsupported).
    """
    patched: list[nn.Linear] = []
    if fast_linear_supported():
        for module in model.modules():
            # A layer with its own forward override (or a subclass) is left as it is.
            if type(module) is nn.Linear and "forward" not in module.__dict__:
                module.forward = types.MethodType(_fast_forward, module)
                patched.append(module)
    try:
        yield len(patched)
    finally:
        for module in patched:
            module.__dict__.pop("forward", None)


# -- a private random stream -----------------------------------------------------------------
class PrivateRandom:
    """A seeded random stream of its own, lent to torch's global generator on demand.

    Model code draws noise from the global generator (``torch.randn_like``). A training
    run :meth:`enter`\\ s its stream while it computes and :meth:`leave`\\ s before handing
    control back (at every ``yield``), so whatever the caller does with random numbers in
    between neither disturbs the run nor is disturbed by it: the same seed gives the same
    weights. CPU and CUDA generators are swapped; other devices keep the global stream.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self._cuda = device if device.type == "cuda" else None
        # Fresh generators give the seeded states without touching the global ones.
        cpu = torch.Generator().manual_seed(seed).get_state()
        cuda = torch.Generator(device=device).manual_seed(seed).get_state() if self._cuda is not None else None
        self._inner = (cpu, cuda)
        self._outer: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def _get(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state(self._cuda) if self._cuda is not None else None
        return torch.get_rng_state(), cuda

    def _set(self, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], self._cuda)

    @property
    def inside(self) -> bool:
        return self._outer is not None

    def get_state(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The stream's state (CPU, CUDA or None), whether it is swapped in or not."""
        return self._get() if self._outer is not None else self._inner

    def set_state(self, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        """Continue the stream from a state :meth:`get_state` gave."""
        cuda = state[1] if self._cuda is not None else None
        if self._outer is not None:
            self._set((state[0], cuda))
        else:
            self._inner = (state[0], cuda)

    def enter(self) -> None:
        """Swap this stream in (a no-op when already in)."""
        if self._outer is None:
            self._outer = self._get()
            self._set(self._inner)

    def leave(self) -> None:
        """Swap the caller's stream back (a no-op when not in)."""
        if self._outer is not None:
            self._inner = self._get()
            self._set(self._outer)
            self._outer = None
