"""ONNX models in and out: round trips, decoders alone, manifests, and files refused as unsafe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.errors import LatentLabError
from tests.core.test_adapters import forget_external_families

onnx = pytest.importorskip("onnx", reason="the onnx extra (onnx, onnxruntime) is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra (onnx, onnxruntime) is not installed")

import latentlab  # noqa: E402
from latentlab.core import inference, onnx_io  # noqa: E402
from latentlab.core.checkpoint import load_model  # noqa: E402
from latentlab.core.models import ModelConfig, build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "resources" / "models" / "mnist-vae-2d"


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    forget_external_families()


def _tiny(family: str = "ae", **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(family=family, input_shape=(1, 6, 6), latent_dim=3, hidden=(8,), **extra)
    return build_model(config).eval()


def test_the_bundled_vae_round_trips_through_onnx(tmp_path: Path) -> None:
    model = load_model(BUNDLED).model
    out = onnx_io.export_onnx(model, tmp_path / "vae")
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "latentlab-onnx.json"]
    back = latentlab.load_model(out)
    assert back.has_encoder and back.config.latent_dim == 2 and back.output_range == "unit"
    z = torch.randn(16, 2, generator=torch.Generator().manual_seed(1)) * 2
    assert (inference.decode(back, z) - inference.decode(model, z)).abs().max() <= 1e-5
    data = latentlab.load_dataset("mnist", limit=40)
    assert np.abs(inference.encode(back, data.images) - inference.encode(model, data.images)).max() <= 1e-5
    # The VAE's logvar comes through too: the KL per dimension agrees.
    assert np.allclose(inference.kl_per_dim(back, data), inference.kl_per_dim(model, data), atol=1e-4)


def test_an_autoencoder_exports_mu_only_and_reexport_replaces_the_folder(tmp_path: Path) -> None:
    model = _tiny("ae")
    out = onnx_io.export_onnx(model, tmp_path / "ae")
    manifest = json.loads((out / onnx_io.MANIFEST_NAME).read_text())
    assert manifest["encoder"]["outputs"] == ["mu"] and manifest["latent_dim"] == 3
    onnx_io.export_onnx(model, tmp_path / "ae")   # an earlier export is replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(LatentLabError, match="not an ONNX export"):
        onnx_io.export_onnx(model, tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    with pytest.raises(LatentLabError, match="conditional"):
        onnx_io.export_onnx(_tiny("cvae", num_classes=2), tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae", "other"]


def test_a_decoder_alone_opens_as_a_generator(tmp_path: Path) -> None:
    model = _tiny("ae")
    out = onnx_io.export_onnx(model, tmp_path / "ae")
    gen = latentlab.load_model(out / "decoder.onnx")
    assert not gen.has_encoder and gen.config.family == "external-generator" and gen.config.latent_dim == 3
    codes = torch.tensor([[0.5, -1.0, 1.5]])
    target = inference.decode(model, codes)
    assert torch.allclose(inference.decode(gen, codes), target, atol=1e-5)
    placed = latentlab.grid_search_codes(gen, target, steps=13)
    assert (inference.decode(gen, placed) - target).pow(2).sum() <= (inference.decode(gen, torch.zeros(1, 3))
                                                                     - target).pow(2).sum()
    (out / "encoder.onnx").unlink()
    with pytest.raises(LatentLabError, match="encoder file 'encoder.onnx' named in latentlab-onnx.json is missing"):
        latentlab.load_model(out)
    (out / onnx_io.MANIFEST_NAME).unlink()
    folder_gen = latentlab.load_model(out)   # a folder without an encoder is a generator too
    assert not folder_gen.has_encoder and folder_gen.config.latent_dim == 3
    pair = onnx_io.load_onnx(decoder=out / "decoder.onnx", name="mine")
    assert pair.name == "mine"


def test_a_manifest_names_inputs_and_its_mistakes_are_reported(tmp_path: Path) -> None:
    out = onnx_io.export_onnx(_tiny("vae"), tmp_path / "vae")
    manifest_path = out / onnx_io.MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["decoder"]["input"] = "codes"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(LatentLabError, match="no input 'codes'"):
        latentlab.load_model(out)
    manifest_path.write_text(json.dumps({"colour": "red"}))
    with pytest.raises(LatentLabError, match="unknown keys colour"):
        latentlab.load_model(out)
    manifest_path.write_text(json.dumps({"decoder": {"file": "../decoder.onnx"}}))
    with pytest.raises(LatentLabError, match="inside the folder"):
        latentlab.load_model(out)
    manifest_path.write_text("{not json")
    with pytest.raises(LatentLabError, match="not valid JSON"):
        latentlab.load_model(out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentLabError, match="no decoder.onnx here"):
        onnx_io.load_onnx(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LatentLabError, match="not an ONNX model"):
        onnx_io.load_onnx(tmp_path / "notes.txt")


def _graph_with_external_data(folder: Path, locations: list[str]) -> Path:
    """A decoder z[1,2] -> z + w (w a 2-vector per location, summed) whose weights live in other files."""
    from onnx import TensorProto, helper

    inits, nodes, last = [], [], "z"
    for k, location in enumerate(locations):
        tensor = helper.make_tensor(f"w{k}", TensorProto.FLOAT, [2], [0.0, 0.0])
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "8")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        inits.append(tensor)
        nodes.append(helper.make_node("Add", [last, f"w{k}"], [f"s{k}"]))
        last = f"s{k}"
    nodes.append(helper.make_node("Reshape", [last, "shape"], ["out"]))
    inits.append(helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 1, 2]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1, 1, 2])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "decoder.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def test_external_data_inside_the_folder_is_read(tmp_path: Path) -> None:
    path = _graph_with_external_data(tmp_path / "m", ["weights.bin"])
    (tmp_path / "m" / "weights.bin").write_bytes(np.array([0.25, 0.5], np.float32).tobytes())
    gen = onnx_io.load_onnx(path, output_range="unit")
    assert inference.decode(gen, torch.zeros(1, 2)).flatten().tolist() == [0.25, 0.5]


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, location: str) -> None:
    (tmp_path / "outside.bin").write_bytes(bytes(8))
    path = _graph_with_external_data(tmp_path / "m", [location])
    with pytest.raises(LatentLabError, match="refusing to read it"):
        latentlab.load_model(path)


def test_the_content_hash_follows_every_file_of_the_model_and_nothing_else(tmp_path: Path) -> None:
    folder = onnx_io.export_onnx(_tiny("vae"), tmp_path / "vae-onnx")
    first = onnx_io.content_hash(folder)
    assert len(first) == 64 and onnx_io.content_hash(folder) == first
    (folder / "notes.txt").write_text("a file that is no part of the model")
    assert onnx_io.content_hash(folder) == first
    for name in ("decoder.onnx", "encoder.onnx", onnx_io.MANIFEST_NAME):   # each part counts
        original = (folder / name).read_bytes()
        if name.endswith(".onnx"):
            proto = onnx.load(str(folder / name))
            proto.doc_string = "another model"
            onnx.save(proto, str(folder / name))
        else:
            manifest = json.loads(original)
            (folder / name).write_text(json.dumps({**manifest, "name": "another"}))
        assert onnx_io.content_hash(folder) != first, name
        (folder / name).write_bytes(original)
    assert onnx_io.content_hash(folder) == first
    # A lone graph and its external data: a change in the weights file is a change of model.
    path = _graph_with_external_data(tmp_path / "ext", ["weights.bin"])
    (tmp_path / "ext" / "weights.bin").write_bytes(np.array([0.25, 0.5], np.float32).tobytes())
    lone = onnx_io.content_hash(path)
    (tmp_path / "ext" / "weights.bin").write_bytes(np.array([0.25, 0.75], np.float32).tobytes())
    assert onnx_io.content_hash(path) != lone
    # Checked as for loading before anything is read.
    bad = _graph_with_external_data(tmp_path / "bad", ["../outside.bin"])
    (tmp_path / "outside.bin").write_bytes(bytes(8))
    with pytest.raises(LatentLabError, match="refusing to read it"):
        onnx_io.content_hash(bad)
    with pytest.raises(LatentLabError, match="no decoder.onnx"):
        onnx_io.content_hash(tmp_path)


def test_a_link_leading_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.bin").write_bytes(bytes(8))
    path = _graph_with_external_data(tmp_path / "m", ["link.bin"])
    (tmp_path / "m" / "link.bin").symlink_to(tmp_path / "outside.bin")
    with pytest.raises(LatentLabError, match="outside the model's folder"):
        latentlab.load_model(path)


def test_file_sizes_and_external_file_counts_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _graph_with_external_data(tmp_path / "m", ["a.bin", "b.bin"])
    for name in ("a.bin", "b.bin"):
        (tmp_path / "m" / name).write_bytes(bytes(8))
    monkeypatch.setattr(onnx_io, "MAX_EXTERNAL_FILES", 1)
    with pytest.raises(LatentLabError, match="more than 1 external data files"):
        latentlab.load_model(path)
    monkeypatch.setattr(onnx_io, "MAX_EXTERNAL_FILES", 64)
    monkeypatch.setattr(onnx_io, "MAX_EXTERNAL_BYTES", 12)
    with pytest.raises(LatentLabError, match="external data files hold"):
        latentlab.load_model(path)
    monkeypatch.setattr(onnx_io, "MAX_ONNX_BYTES", 10)
    with pytest.raises(LatentLabError, match="larger than"):
        latentlab.load_model(path)


def test_a_damaged_file_and_a_missing_runtime_are_clear_errors(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not protobuf" * 10)
    with pytest.raises(LatentLabError, match="not a readable ONNX model"):
        latentlab.load_model(bad)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(LatentLabError, match=r'pip install "latentlab\[onnx\]"'):
        latentlab.load_model(bad)


def test_export_onnx_on_the_command_line(tmp_path: Path) -> None:
    from tests.cli.test_cli import run_cli

    out = tmp_path / "onnx"
    r = run_cli("export-onnx", "--model", str(BUNDLED), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "decoder.onnx" in r.stdout
    back, model = latentlab.load_model(out), load_model(BUNDLED).model
    z = torch.randn(5, 2)
    assert (inference.decode(back, z) - inference.decode(model, z)).abs().max() <= 1e-5
    r = run_cli("export-onnx", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "error" in r.stderr and not (tmp_path / "x").exists()
