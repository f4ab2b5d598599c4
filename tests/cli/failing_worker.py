"""A torchrun worker for the tests: ``latentlab train`` whose second process fails at its third step.

Run as ``python -m torch.distributed.run ... tests/cli/failing_worker.py train ...``; the
autoencoder family's step is replaced (through the registry, as a plug-in would) by one that
raises on rank 1, so the other process is left waiting in a collective.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import torch

from latentlab.cli import main
from latentlab.core.models import registry

torch.set_num_threads(1)
_family = registry.get("ae")
_step = _family.train_step


def _failing_step(model, x, y, optimizers, ctx):  # type: ignore[no-untyped-def]
    if os.environ.get("RANK") == "1" and ctx.global_step == 2:
        raise RuntimeError("simulated crash of one worker")
    return _step(model, x, y, optimizers, ctx)


registry.register(dataclasses.replace(_family, train_step=_failing_step), replace=True)
sys.exit(main(sys.argv[1:]))
