"""Data-parallel training over several processes (launched by ``torchrun``).

``torchrun --nproc_per_node=N -m latentlab train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in their environment;
:func:`from_environment` reads them and :func:`start` joins the process group (gloo on a
CPU, NCCL on CUDA, each process on the GPU of its local rank).

**How gradients are shared.** PyTorch's ``DistributedDataParallel`` synchronises gradients
through the wrapped module's ``forward``: its reducer expects one forward, then one
backward, per step. A LatentLab family's step does not fit that shape: it calls the
model's own methods (``model.loss``, ``model.generator``, ``model.discriminator``), an
adversarial family takes two backward passes and two optimiser steps per batch, freezes one
player while the other learns, and a GAN fits its latent regressor with an optimiser of
its own. Wrapping would mean rewriting every family's step around ``forward``. So
:class:`GradientSync` does what DDP's reducer does, at the point DDP does it, without the
wrapper: a hook on every trainable parameter (``register_post_accumulate_grad_hook``) sums
its freshly accumulated gradient over the processes as soon as a backward pass has
produced it, weighted by each process's share of the global batch, so every process holds
the gradient the whole batch would have given. Hooks fire in the same order on every
process because every process runs the same code on same-shaped batches; summing is
linear, so a second backward pass into the same gradient is still exact. Every optimiser
(the family's and any the model keeps inside) therefore steps on the same numbers
everywhere, and a loss scaler (fp16) sees the same gradients on every process, so it skips
the same steps. A family option that decides per batch from its local losses (the VAE-GAN's
``margin_gating``) would make processes take different backward passes; it is refused.

Model weights start equal (same seed, then a broadcast from rank 0), and are broadcast from
rank 0 again at each epoch's end, buffers included (BatchNorm statistics: DDP broadcasts
them too). Each process draws its own noise (a stream seeded from the run's seed and its
rank), as separate machines would.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import nn

from latentlab.core.errors import LatentLabError

__all__ = ["Distributed", "GradientSync", "check_supported", "end_process", "from_environment", "joined",
           "rank_seed", "share", "start"]

#: How long a collective waits for the other processes before the run fails (a dead peer
#: is usually noticed at once by the transport; this bounds the rest).
TIMEOUT = timedelta(minutes=10)

_joined = False  # whether this process has joined a run's group (see end_process)

#: Family options that take decisions per batch from the local losses, so processes would
#: diverge in which backward passes they take.
_PER_BATCH_DECISIONS = ("margin_gating",)


@dataclass(frozen=True)
class Distributed:
    """This process's place in a distributed run."""

    rank: int
    world_size: int
    local_rank: int
    backend: str = ""             # "gloo" or "nccl" once started

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs, shows progress and writes files."""
        return self.rank == 0


def from_environment(environ: dict[str, str] | None = None) -> Distributed | None:
    """The run this process belongs to, from torchrun's variables; None when not launched so.

    A ``WORLD_SIZE`` of 1 (``torchrun --nproc_per_node=1``) counts as distributed too, so
    its saved settings say so.
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        world, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError:
        raise LatentLabError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (launch with torchrun)") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise LatentLabError(f"inconsistent torchrun settings: rank {rank} of world size {world}")
    return Distributed(rank=rank, world_size=world, local_rank=local)


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA, gloo for everything else."""
    return "nccl" if device.type == "cuda" else "gloo"


def device_for(dist: Distributed, device_choice: str) -> str:
    """The device this process trains on: with CUDA, the GPU of its local rank."""
    text = str(device_choice).strip().lower()
    if text in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if dist.local_rank >= count:
            raise LatentLabError(f"process {dist.local_rank} on this node has no GPU of its own: the node has "
                                 f"{count}; start at most {count} processes per node")
        return f"cuda:{dist.local_rank}"
    if text == "auto":
        return "cpu"  # MPS has no collective backend
    return text


def start(dist: Distributed, device: torch.device) -> Distributed:
    """Join the process group (torchrun's rendezvous); returns ``dist`` with its backend."""
    import torch.distributed as td

    backend = backend_for(device)
    available = td.is_nccl_available() if backend == "nccl" else td.is_gloo_available()
    if not available:
        raise LatentLabError(f"this PyTorch has no {backend} backend for distributed training on {device.type}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group(backend=backend, timeout=TIMEOUT)
    global _joined
    _joined = True
    return Distributed(dist.rank, dist.world_size, dist.local_rank, backend)


def stop() -> None:
    """Leave the process group (when one was joined)."""
    import torch.distributed as td

    if td.is_available() and td.is_initialized():
        td.destroy_process_group()


def joined() -> bool:
    """Whether :func:`start` joined this process to a run's group."""
    return _joined


def end_process(code: int) -> None:
    """End this process of a run now, with ``code``, once its output is flushed (see module doc)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said on it
            pass
    os._exit(code)


def check_supported(options: dict[str, object], batch_size: int, world_size: int) -> None:
    """Raise LatentLabError for settings a distributed run cannot take."""
    if batch_size % world_size:
        raise LatentLabError(f"the batch size {batch_size} is the global batch and must split evenly over the "
                             f"{world_size} processes; use a multiple of {world_size}")
    on = [name for name in _PER_BATCH_DECISIONS if options.get(name)]
    if on:
        raise LatentLabError(f"the option {', '.join(on)} decides per batch from each process's own losses, so "
                             "the processes would train differently; turn it off for distributed training")


def rank_seed(seed: int, rank: int) -> int:
    """A noise seed of its own for each rank (rank 0 keeps the run's seed)."""
    if rank == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def share(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rank's slice ``[lo, hi)`` of ``count`` items split as evenly as possible, in rank order."""
    base, extra = divmod(count, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


class GradientSync:
    """Sums every trainable parameter's new gradient over the processes, weighted (see module doc)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        import torch.distributed as td

        self._td = td
        self.weight = 1.0 / td.get_world_size()
        self._handles = [p.register_post_accumulate_grad_hook(self._hook)
                         for p in model.parameters() if p.requires_grad]
        self._device = device

    def set_share(self, local: int, total: int) -> None:
        """This process holds ``local`` of the step's ``total`` items."""
        self.weight = local / total

    def _hook(self, p: torch.Tensor) -> None:
        grad = p.grad
        if grad is None:
            return
        grad.mul_(self.weight)
        self._td.all_reduce(grad)

    def close(self) -> None:
        """Remove the hooks: the trained model computes on its own again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def broadcast_state(model: nn.Module) -> None:
    """Every parameter and buffer of rank 0 to all processes."""
    import torch.distributed as td

    with torch.no_grad():
        for tensor in _tensors(model):
            td.broadcast(tensor, src=0)


def _tensors(model: nn.Module) -> Iterable[torch.Tensor]:
    yield from model.parameters()
    yield from model.buffers()


def sum_all(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the processes (in place; returned for convenience)."""
    import torch.distributed as td

    td.all_reduce(tensor)
    return tensor


def broadcast_values(values: list[float], device: torch.device) -> list[float]:
    """Rank 0's numbers on every process (so every process takes the same decisions)."""
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64, device=device)
    td.broadcast(t, src=0)
    return t.tolist()


def any_true(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is set on any process."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    sum_all(t)
    return bool(t.item() > 0)


def check_same_data(fingerprint: str, device: torch.device) -> None:
    """Raise LatentLabError unless every process loaded the same data."""
    import torch.distributed as td

    code = int.from_bytes(hashlib.sha256(fingerprint.encode()).digest()[:6], "little")
    t = torch.tensor([code, -code], dtype=torch.float64, device=device)
    td.all_reduce(t, op=td.ReduceOp.MAX)
    if t[0].item() != code or -t[1].item() != code:
        raise LatentLabError("the processes of this run loaded different data; give every process the same "
                             "--data (on a shared or identical path)")
