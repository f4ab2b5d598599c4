"""Model files: exact round trips, atomic saves, and hostile or broken files refused."""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch

from latentlab.core import checkpoint, checkpoint_read
from latentlab.core.checkpoint import load_model, model_content_hash, save_model
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, build_model
from latentlab.core.training import TrainConfig

FAMILIES = ("ae", "vae", "beta-vae", "cvae", "pca")


def make_model(family: str = "vae", arch: str = "mlp", seed: int = 0):
    torch.manual_seed(seed)
    config = ModelConfig(family=family, arch=arch, input_shape=(1, 12, 10), latent_dim=2,
                         hidden=(16,) if arch == "mlp" else (4, 8), beta=2.0,
                         num_classes=3 if family == "cvae" else 0,
                         label_names=("a", "b", "c") if family == "cvae" else ())
    model = build_model(config)
    if family == "pca":
        model.fit(torch.rand(40, 1, 12, 10))
    return model.eval()


def outputs(model) -> list[torch.Tensor]:
    torch.manual_seed(5)
    x, z, y = torch.rand(4, 1, 12, 10), torch.randn(4, 2), torch.tensor([0, 1, 2, 1])
    mu, logvar = model.encode(x, y)
    return [mu, logvar if logvar is not None else torch.zeros(()), model.decode(z, y)]


@pytest.fixture
def saved(tmp_path) -> Path:
    return save_model(tmp_path / "model", make_model())


class ArmedPayload:
    """Unpickling this creates ``marker``: proof that a loader executed code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


# ---------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("suffix", ("", ".latentlab"))
@pytest.mark.parametrize("arch", ("mlp", "conv"))
@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_gives_identical_outputs(tmp_path, family, arch, suffix):
    model = make_model(family, arch)
    path = save_model(tmp_path / f"m{suffix}", model)
    loaded = load_model(path)
    assert loaded.config == model.config
    assert not loaded.model.training and loaded.model.device.type == "cpu"
    for a, b in zip(outputs(model), outputs(loaded.model)):
        assert torch.equal(a, b)


def test_config_json_records_everything(tmp_path):
    model = make_model("cvae")
    history = [{"epoch": 1, "loss": 12.5, "val": float("nan"), "t": torch.tensor(2.0)}]
    data = {"source": {"kind": "mnist"}, "fingerprint": "abc", "shape": [1, 12, 10],
            "label_names": ["a", "b", "c"], "val_fraction": 0.2, "seed": 0, "n": 40}
    path = save_model(tmp_path / "m", model, train_config=TrainConfig(epochs=3), history=history,
                      data_info=data, extra={"note": "hi"})
    meta = json.loads((path / "config.json").read_text())
    assert meta["format_version"] == 1 and meta["app"] == "latentlab" and meta["family"] == "cvae"
    assert ModelConfig.from_dict(meta["model"]) == model.config
    assert TrainConfig.from_dict(meta["train"]) == TrainConfig(epochs=3)
    assert meta["history"] == [{"epoch": 1, "loss": 12.5, "val": None, "t": 2.0}]
    assert meta["data"] == data and meta["extra"] == {"note": "hi"}
    state = model.state_dict()
    assert meta["tensors"] == {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in state.items()}
    assert load_model(path).meta == meta


def test_load_accepts_the_config_file_and_a_hand_zipped_folder(tmp_path, saved):
    assert load_model(saved / "config.json").path == saved
    archive = tmp_path / "hand.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in saved.iterdir():
            zf.write(f, f"model/{f.name}")
    assert torch.equal(outputs(load_model(archive).model)[2], outputs(load_model(saved).model)[2])


def test_content_hash_follows_the_weights(tmp_path):
    a = save_model(tmp_path / "a", make_model(seed=0))
    b = save_model(tmp_path / "b.latentlab", make_model(seed=0))
    c = save_model(tmp_path / "c", make_model(seed=1))
    assert model_content_hash(a) == model_content_hash(b) != model_content_hash(c)


def test_overwriting_a_model_replaces_it_and_leaves_no_debris(tmp_path):
    path = save_model(tmp_path / "m", make_model(seed=0))
    save_model(path, make_model(seed=1))
    assert torch.equal(outputs(load_model(path).model)[2], outputs(make_model(seed=1))[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


# ----------------------------------------------------------------------- atomic saving
@pytest.mark.parametrize("name", ("m", "m.latentlab"))
def test_a_failed_save_keeps_the_previous_model(tmp_path, monkeypatch, name):
    path = save_model(tmp_path / name, make_model(seed=0))
    before = outputs(load_model(path).model)
    calls = []
    real_write = checkpoint._write_file

    def failing_write(target, data):
        calls.append(target)
        real_write(target, data[: len(data) // 2])  # half a file lands, then the disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_write_file", failing_write)
    with pytest.raises(LatentLabError, match="No space left"):
        save_model(path, make_model(seed=1))
    assert calls
    monkeypatch.undo()
    for a, b in zip(before, outputs(load_model(path).model)):
        assert torch.equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_check_save_target_refuses_what_save_model_would(tmp_path):
    model_dir = save_model(tmp_path / "m", make_model())
    checkpoint.check_save_target(model_dir)  # an existing model may be replaced
    checkpoint.check_save_target(tmp_path / "new" / "m.latentlab")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(LatentLabError, match="not a LatentLab model"):
        checkpoint.check_save_target(folder)
    (tmp_path / "z.latentlab").mkdir()
    with pytest.raises(LatentLabError, match="a folder with that name exists"):
        checkpoint.check_save_target(tmp_path / "z.latentlab")


def test_refuses_to_overwrite_what_is_not_a_model(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(LatentLabError, match="not a LatentLab model"):
        save_model(folder, make_model())
    assert (folder / "holiday.jpg").read_bytes() == b"precious"
    other = tmp_path / "other-app"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}')
    (other / "model.safetensors").write_bytes(b"theirs")
    with pytest.raises(LatentLabError, match="not a LatentLab model"):
        save_model(other, make_model())
    assert (other / "model.safetensors").read_bytes() == b"theirs"
    afile = tmp_path / "notes.txt"
    afile.write_text("keep")
    with pytest.raises(LatentLabError, match="file with that name"):
        save_model(afile, make_model())
    assert afile.read_text() == "keep"


# ---------------------------------------------------------------------- hostile files
def test_a_pickle_is_refused_without_running_it(tmp_path, saved):
    armed = tmp_path / "proof"
    pickle.loads(pickle.dumps(ArmedPayload(armed)))
    assert armed.exists()  # the payload really executes when unpickled

    marker = tmp_path / "pwned"
    payload = pickle.dumps({"encoder.input.weight": ArmedPayload(marker)})
    (saved / "model.safetensors").write_bytes(payload)
    with pytest.raises(LatentLabError, match="not a safetensors file"):
        load_model(saved)
    archive = tmp_path / "evil.latentlab"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(saved / "config.json", "config.json")
        zf.writestr("model.safetensors", payload)
    with pytest.raises(LatentLabError, match="not a safetensors file"):
        load_model(archive)
    raw = tmp_path / "evil.pt"
    raw.write_bytes(payload)
    with pytest.raises(LatentLabError, match="not a LatentLab model"):
        load_model(raw)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ("truncated", "random", "huge-header", "empty"))
def test_broken_weights_are_refused(saved, damage):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    broken = {
        "truncated": data[: len(data) // 2],
        "random": bytes(range(256)) * 8,
        "huge-header": struct.pack("<Q", 2**40) + b"{" + data[9:],
        "empty": b"",
    }[damage]
    weights.write_bytes(broken)
    with pytest.raises(LatentLabError, match="model.safetensors"):
        load_model(saved)


def _rewrite_weights(path: Path, edit) -> None:
    tensors = safetensors.torch.load((path / "model.safetensors").read_bytes())
    edit(tensors)
    (path / "model.safetensors").write_bytes(safetensors.torch.save(tensors))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.pop("decoder.input.bias"), "missing tensors.*decoder.input.bias"),
        (lambda t: t.__setitem__("spare", torch.zeros(2)), "unexpected tensors.*spare"),
        (lambda t: t.__setitem__("encoder.input.bias", torch.zeros(17)), r"shape \[17\], expected \[16\]"),
        (lambda t: t.__setitem__("encoder.input.bias", torch.zeros(16, dtype=torch.float64)),
         "dtype float64, expected float32"),
        (lambda t: t.__setitem__("encoder.input.bias", torch.full((16,), float("nan"))), "NaN"),
    ],
)
def test_tensors_must_match_the_architecture(saved, edit, message):
    _rewrite_weights(saved, edit)
    with pytest.raises(LatentLabError, match=message):
        load_model(saved)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"model_type": "bert"}', "not a LatentLab model"),
    ],
)
def test_garbage_config_is_refused(saved, text, message):
    (saved / "config.json").write_text(text)
    with pytest.raises(LatentLabError, match=message):
        load_model(saved)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "format_version 2"),
        ({"format_version": "1"}, "format_version"),
        ({"model": {"family": "wgan"}}, "unknown model family"),
        ({"model": {"latent_dim": "two"}}, "invalid model settings"),
        ({"model": {"latent_dim": 2.5}}, "cannot build"),
        ({"model": {"colour": "red"}}, "unknown model settings"),
    ],
)
def test_invalid_settings_are_refused(saved, change, message):
    meta = json.loads((saved / "config.json").read_text())
    for key, value in change.items():
        meta[key] = {**meta[key], **value} if isinstance(value, dict) else value
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(LatentLabError, match=message):
        load_model(saved)


def test_an_absurd_architecture_is_refused_before_allocating_it(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["model"]["hidden"] = [2**40]
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(LatentLabError, match="shape"):
        load_model(saved)


@pytest.mark.parametrize("missing", ("config.json", "model.safetensors"))
def test_missing_files_are_named(saved, missing):
    (saved / missing).unlink()
    with pytest.raises(LatentLabError, match=f"missing {missing}"):
        load_model(saved)
    with pytest.raises(LatentLabError, match="no such"):
        load_model(saved.parent / "nowhere")


def test_unsafe_or_oversized_archives_are_refused(tmp_path, saved, monkeypatch):
    for member in ("../config.json", "/etc/config.json"):
        archive = tmp_path / "bad.latentlab"
        with zipfile.ZipFile(archive, "w") as zf:
            # A bare ZipInfo keeps the name as given (ZipFile.write would sanitise it).
            zf.writestr(zipfile.ZipInfo(member), (saved / "config.json").read_bytes())
            zf.write(saved / "model.safetensors", "model.safetensors")
        with pytest.raises(LatentLabError, match="unsafe path"):
            load_model(archive)
    bomb = tmp_path / "bomb.latentlab"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(saved / "config.json", "config.json")
        zf.writestr("model.safetensors", b"\0" * 100_000)
    monkeypatch.setattr(checkpoint_read, "MAX_WEIGHTS_BYTES", 50_000)
    with pytest.raises(LatentLabError, match="too large"):
        load_model(bomb)
    not_a_zip = tmp_path / "junk.latentlab"
    not_a_zip.write_bytes(b"PK\3\4 but not really")
    with pytest.raises(LatentLabError, match="junk.latentlab"):
        load_model(not_a_zip)
