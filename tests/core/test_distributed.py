"""Distributed training's pieces in one process: sharding, seeds, checks, the gradient sum."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as td

from latentlab.core import distributed
from latentlab.core.data import load_dataset
from latentlab.core.distributed import Distributed, from_environment, rank_seed, share
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig
from latentlab.core.training import TrainConfig, train


def test_shares_cover_a_batch_in_order_without_overlap():
    for count in (1, 7, 64, 65):
        for world in (1, 2, 3, 8):
            parts = [share(count, r, world) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == count
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
            sizes = [hi - lo for lo, hi in parts]
            assert max(sizes) - min(sizes) <= 1


def test_each_rank_draws_noise_of_its_own_and_rank_0_keeps_the_seed():
    seeds = [rank_seed(5, r) for r in range(4)]
    assert seeds[0] == 5 and len(set(seeds)) == 4
    assert seeds == [rank_seed(5, r) for r in range(4)]  # the same on every machine


def test_torchrun_variables_are_read_and_checked():
    assert from_environment({}) is None
    assert from_environment({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Distributed(1, 4, 1)
    with pytest.raises(LatentLabError, match="rank 4 of world size 4"):
        from_environment({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(LatentLabError, match="whole numbers"):
        from_environment({"RANK": "x", "WORLD_SIZE": "2"})


def test_settings_a_distributed_run_cannot_take_are_refused():
    with pytest.raises(LatentLabError, match="batch size 100 .* multiple of 3"):
        distributed.check_supported({}, 100, 3)
    with pytest.raises(LatentLabError, match="margin_gating"):
        distributed.check_supported({"margin_gating": True}, 64, 2)
    distributed.check_supported({"margin_gating": False}, 64, 2)


def test_the_device_follows_the_local_rank_only_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert distributed.device_for(Distributed(3, 4, 1), "auto") == "cuda:1"
    with pytest.raises(LatentLabError, match="at most 2 processes per node"):
        distributed.device_for(Distributed(2, 4, 2), "cuda")
    assert distributed.device_for(Distributed(2, 4, 2), "cpu") == "cpu"
    assert distributed.backend_for(torch.device("cuda", 1)) == "nccl"
    assert distributed.backend_for(torch.device("cpu")) == "gloo"


@pytest.fixture
def group():
    """A one-process gloo group (a real process group, as torchrun would start)."""
    td.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        yield Distributed(0, 1, 0, "gloo")
    finally:
        td.destroy_process_group()


def test_the_gradient_sum_weights_each_process_by_its_share(group):
    layer = torch.nn.Linear(3, 1)
    sync = distributed.GradientSync(layer, torch.device("cpu"))
    sync.set_share(16, 64)  # this process held a quarter of the global batch
    layer(torch.ones(2, 3)).sum().backward()
    torch.testing.assert_close(layer.bias.grad, torch.tensor([0.5]))  # 2 * 1/4, summed over one process
    sync.close()
    layer.zero_grad()
    layer(torch.ones(2, 3)).sum().backward()
    torch.testing.assert_close(layer.bias.grad, torch.tensor([2.0]))  # the hooks are gone


def test_a_one_process_group_trains_as_a_plain_run_and_leaves_no_hooks(group):
    data = load_dataset("mnist", limit=200)
    config = ModelConfig(family="ae", arch="mlp", latent_dim=2, hidden=(16,))

    def result(dist):
        gen = train(config, data, TrainConfig(epochs=1, batch_size=40, device="cpu", threads=1), distributed=dist)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    plain, grouped = result(None), result(group)
    assert grouped.history[0]["train"] == pytest.approx(plain.history[0]["train"])
    td.destroy_process_group()  # the trained model must compute on its own now
    grouped.model.train()
    grouped.model.loss(data.images[:4], None)["loss"].backward()
    td.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_finished_process_of_a_run_ends_at_once_with_its_output_flushed(tmp_path):
    # Piped stdout is block-buffered: without the flush, "saved" would be lost with os._exit.
    import subprocess
    import sys

    code = ("import sys; from latentlab.core import distributed as d; print('saved', end=''); "
            "sys.stderr.write('epoch 2/2'); assert not d.joined(); d.end_process(3); print('not reached')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (3, "saved", "epoch 2/2")


def test_joining_a_group_marks_the_process_for_a_quick_end(group, monkeypatch):
    monkeypatch.setattr(distributed, "_joined", False)  # restored after: cli.main must not end pytest's process
    assert distributed.joined() is False  # the fixture joined directly, not through start()
    assert distributed.start(Distributed(0, 1, 0), torch.device("cpu")).backend == "gloo"
    assert distributed.joined() is True
