"""ONNX models: open an encoder and decoder (or a decoder alone) as a LatentLab model, and export ours.

Opening needs the ``onnx`` extra (``pip install "latentlab[onnx]"``: onnxruntime to run the
graphs, onnx to check them first). A model is

* a folder holding ``decoder.onnx`` and optionally ``encoder.onnx``, with an optional
  ``latentlab-onnx.json`` (see :data:`MANIFEST_NAME`) naming the files, inputs, outputs, the
  latent size and what the decoder makes; or
* one ``.onnx`` file (a decoder alone, e.g. a GAN's generator), or two paths given as
  ``load_onnx(encoder=..., decoder=...)``.

ONNX files are data, not code, and are checked as such before a runtime sees them: each file's
size is capped; tensors stored in external data files must name plain relative paths that stay
inside the model's folder (no absolute paths, no ``..``, no links leading out), and the number
and total size of those files are bounded.

Exporting (:func:`export_onnx`) writes a LatentLab model's encoder (``x`` → ``mu`` and, for
variational families, ``logvar``) and decoder (``z`` → outputs in [0, 1] for images) with
torch's TorchScript-based exporter, which needs no package beyond torch; a manifest makes
the folder open again with :func:`load_onnx`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentlab.core.adapters import ExternalModel
from latentlab.core.errors import LatentLabError

__all__ = [
    "ENCODER_NAME", "DECODER_NAME", "INSTALL_HINT", "MANIFEST_NAME", "MAX_EXTERNAL_BYTES",
    "MAX_EXTERNAL_FILES", "MAX_ONNX_BYTES", "check_onnx_file", "content_hash", "export_onnx", "load_onnx",
]

INSTALL_HINT = 'pip install "latentlab[onnx]"'
MANIFEST_NAME = "latentlab-onnx.json"
ENCODER_NAME = "encoder.onnx"
DECODER_NAME = "decoder.onnx"
MAX_ONNX_BYTES = 2 * 1024**3           # protobuf's own limit for one file
MAX_EXTERNAL_FILES = 64
MAX_EXTERNAL_BYTES = 8 * 1024**3
MAX_MANIFEST_BYTES = 1024**2
MANIFEST_KEYS = {"format", "version", "encoder", "decoder", "latent_dim", "output", "output_range",
                 "feature_names", "label_names", "name"}


def _modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise LatentLabError(f"opening ONNX models needs the {exc.name or 'onnxruntime'} package; install "
                             f"the ONNX extra with: {INSTALL_HINT}") from None
    return onnx, onnxruntime


# -- checking a file before a runtime reads it ---------------------------------------------
def _tensors(graph: Any) -> Any:
    """Every tensor of a graph and its subgraphs (If/Loop bodies), initializers and constants."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for g in attr.graphs:
                yield from _tensors(g)


def check_onnx_file(path: str | os.PathLike[str]) -> Path:
    """Refuse an ONNX file that is too big or whose external data leaves its folder; returns the path.

    Raises LatentLabError naming the file and the problem.
    """
    return _checked_files(path)[0]


def _checked_files(path: str | os.PathLike[str]) -> tuple[Path, dict[Path, int]]:
    """:func:`check_onnx_file`'s checks; ``(path, {external data file: size})``."""
    onnx, _ = _modules()
    p = Path(path)
    if not p.is_file():
        raise LatentLabError(f"{p}: no such ONNX file")
    size = p.stat().st_size
    if size > MAX_ONNX_BYTES:
        raise LatentLabError(f"{p}: {size / 1024**3:.1f} GiB is larger than the {MAX_ONNX_BYTES / 1024**3:.0f} GiB "
                             "an ONNX file may be")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - a damaged protobuf raises several kinds of error
        raise LatentLabError(f"{p}: not a readable ONNX model ({type(exc).__name__})") from None
    folder = p.resolve().parent
    files: dict[Path, int] = {}
    for tensor in _tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        if not location or os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
            raise LatentLabError(f"{p}: tensor '{tensor.name}' keeps its data at '{location}', which is not a "
                                 "plain path inside the model's folder; refusing to read it")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise LatentLabError(f"{p}: tensor '{tensor.name}' keeps its data at '{location}', outside the "
                                 "model's folder; refusing to read it")
        if not target.is_file():
            raise LatentLabError(f"{p}: the external data file '{location}' is missing")
        files[target] = target.stat().st_size
        if len(files) > MAX_EXTERNAL_FILES:
            raise LatentLabError(f"{p}: more than {MAX_EXTERNAL_FILES} external data files; refusing to read it")
    total = sum(files.values())
    if total > MAX_EXTERNAL_BYTES:
        raise LatentLabError(f"{p}: its external data files hold {total / 1024**3:.1f} GiB, more than the "
                             f"{MAX_EXTERNAL_BYTES / 1024**3:.0f} GiB allowed")
    return p, files


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of an ONNX model's files: whether it is the model a session was saved with.

    ``path`` is what :func:`load_onnx` opens: a folder (its manifest, encoder and decoder, and the
    external data files the graphs name) or one ``.onnx`` file (and its external data). Each
    file counts with its name and size, so a renamed or moved part is a change. Every file is
    checked as for loading (sizes, paths inside the folder) before a byte is read.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        _, (encoder, _), (decoder, _) = _folder_parts(p)
        graphs = [part for part in (encoder, decoder) if part is not None]
        root, files = p, [p / MANIFEST_NAME] if (p / MANIFEST_NAME).is_file() else []
    else:
        root, graphs, files = p.parent, [p], []
    for graph in graphs:
        checked, external = _checked_files(graph)
        files += [checked, *sorted(external)]
    digest = hashlib.sha256()
    for file in dict.fromkeys(f.resolve() for f in files):   # each once, in a fixed order
        name = file.relative_to(root.resolve()).as_posix() if file.is_relative_to(root.resolve()) else file.name
        digest.update(f"{name}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


# -- running a graph as a torch-facing callable -------------------------------------------
class OnnxFunction:
    """One ONNX graph as a callable: a float32 tensor ``[B, ...]`` in, one tensor (or two) out."""

    def __init__(self, path: Path, input_name: str | None, output_names: list[str] | None, what: str) -> None:
        _, ort = _modules()
        check_onnx_file(path)
        options = ort.SessionOptions()
        # One decode of a probe point is tiny; a thread team would fight training for the cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime reports bad graphs with its own types
            raise LatentLabError(f"{path}: onnxruntime cannot run this {what}: {exc}") from None
        inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        names = [i.name for i in inputs]
        if input_name is None:
            if len(inputs) != 1:
                raise LatentLabError(f"{path}: the {what} has inputs {', '.join(names)}; name the one to use "
                                     f"in {MANIFEST_NAME}")
            input_name = names[0]
        elif input_name not in names:
            raise LatentLabError(f"{path}: the {what} has no input '{input_name}' (it has {', '.join(names)})")
        for name in output_names or []:
            if name not in outputs:
                raise LatentLabError(f"{path}: the {what} has no output '{name}' (it has {', '.join(outputs)})")
        self.path, self.what = path, what
        self.input_name = input_name
        self.input_shape = list(inputs[names.index(input_name)].shape)
        self.output_names = output_names or outputs[:1]
        # A graph exported for a batch of exactly one is run one row at a time.
        self.one_at_a_time = bool(self.input_shape) and self.input_shape[0] == 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        rows = [arr[i:i + 1] for i in range(len(arr))] if self.one_at_a_time else [arr]
        try:
            results = [self.session.run(self.output_names, {self.input_name: r}) for r in rows]
        except Exception as exc:  # noqa: BLE001 - shape and type errors come as onnxruntime's own types
            raise LatentLabError(f"{self.path}: the {self.what} failed on input of shape {arr.shape}: {exc}") from None
        outs = tuple(torch.from_numpy(np.concatenate([r[k] for r in results]).astype(np.float32))
                     for k in range(len(self.output_names)))
        return outs[0] if len(outs) == 1 else outs

    def latent_dim(self) -> int | None:
        """The code size, when this decoder's input declares it ([B, D] with a fixed D)."""
        if len(self.input_shape) == 2 and isinstance(self.input_shape[1], int):
            return int(self.input_shape[1])
        return None


# -- opening --------------------------------------------------------------------------------
def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise LatentLabError(f"{path}: too large for a manifest")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentLabError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise LatentLabError(f"{path}: must hold a JSON object")
    unknown = set(data) - MANIFEST_KEYS
    if unknown:
        raise LatentLabError(f"{path}: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(MANIFEST_KEYS))})")
    return data


def _part(manifest: Mapping[str, Any], key: str, folder: Path, default: str) -> tuple[Path | None, dict[str, Any]]:
    entry = manifest.get(key, {})
    if entry is None:
        return None, {}
    if not isinstance(entry, dict):
        raise LatentLabError(f"{MANIFEST_NAME}: '{key}' must be an object like {{\"file\": \"{default}\"}} or null")
    name = entry.get("file", default)
    if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
        raise LatentLabError(f"{MANIFEST_NAME}: the {key} file must be a name inside the folder, got {name!r}")
    path = folder / name
    if not path.is_file():
        if key in manifest and "file" in entry:
            raise LatentLabError(f"{folder}: the {key} file '{name}' named in {MANIFEST_NAME} is missing")
        return None, entry
    return path, entry


def _folder_parts(folder: Path) -> tuple[dict[str, Any], tuple[Path | None, dict[str, Any]], tuple[Path, dict[str, Any]]]:
    """A model folder's manifest, ``(encoder path or None, entry)`` and ``(decoder path, entry)``."""
    manifest = _read_manifest(folder)
    encoder = _part(manifest, "encoder", folder, ENCODER_NAME)
    dec_path, dec_entry = _part(manifest, "decoder", folder, DECODER_NAME)
    if dec_path is None:
        raise LatentLabError(f"{folder}: no {DECODER_NAME} here (or name the decoder's file in {MANIFEST_NAME})")
    return manifest, encoder, (dec_path, dec_entry)


def _outputs(entry: Mapping[str, Any], key: str) -> list[str] | None:
    value = entry.get("outputs", entry.get("output"))
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not 1 <= len(names) <= 2:
        raise LatentLabError(f"{MANIFEST_NAME}: the {key}'s outputs must be one name or two ([mu, logvar])")
    return names


def load_onnx(path: str | os.PathLike[str] | None = None, *, encoder: str | os.PathLike[str] | None = None,
              decoder: str | os.PathLike[str] | None = None, **options: Any) -> ExternalModel:
    """Open ONNX graphs as a LatentLab model (an :class:`~latentlab.core.adapters.ExternalModel`).

    ``path`` is a folder (see the module's docstring) or one decoder ``.onnx`` file; or give
    ``encoder=`` and/or ``decoder=`` paths. ``options`` (``latent_dim``, ``output``,
    ``output_range``, ``feature_names``, ``label_names``, ``name``) override the manifest.
    """
    _modules()
    if path is not None and (encoder is not None or decoder is not None):
        raise LatentLabError("give a folder or file, or encoder=/decoder= paths, not both")
    manifest: dict[str, Any] = {}
    enc_entry: dict[str, Any] = {}
    dec_entry: dict[str, Any] = {}
    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            manifest, (enc_path, enc_entry), (dec_path, dec_entry) = _folder_parts(p)
        elif p.suffix.lower() == ".onnx":
            enc_path, dec_path = None, p
        else:
            raise LatentLabError(f"{p}: not an ONNX model (a .onnx file or a folder holding {DECODER_NAME})")
        default_name = p.stem if p.is_file() else p.name
    else:
        if decoder is None:
            raise LatentLabError("an ONNX model needs a decoder: decoder='decoder.onnx'")
        enc_path = None if encoder is None else Path(encoder).expanduser()
        dec_path = Path(decoder).expanduser()
        default_name = dec_path.stem
    dec = OnnxFunction(dec_path, dec_entry.get("input"), _outputs(dec_entry, "decoder"), "decoder")
    enc = None if enc_path is None else OnnxFunction(
        enc_path, enc_entry.get("input"), _outputs(enc_entry, "encoder"), "encoder")
    settings = {k: manifest[k] for k in ("latent_dim", "output", "output_range", "name") if k in manifest}
    for key in ("feature_names", "label_names"):
        if key in manifest:
            settings[key] = tuple(manifest[key])
    settings.update(options)
    if settings.get("latent_dim") is None:
        settings["latent_dim"] = dec.latent_dim()
        if settings["latent_dim"] is None:
            raise LatentLabError(f"{dec_path}: the decoder's input does not say the latent size; give "
                                 f"\"latent_dim\" in {MANIFEST_NAME}")
    settings.setdefault("name", default_name)
    return ExternalModel(encoder=enc, decoder=dec, **settings)


# -- exporting ------------------------------------------------------------------------------
class _Encoder(nn.Module):
    def __init__(self, model: nn.Module, variational: bool) -> None:
        super().__init__()
        self.model, self.variational = model, variational

    def forward(self, x: torch.Tensor) -> Any:
        mu, logvar = self.model.encode(x)
        if self.variational and logvar is not None:
            return mu, logvar
        return mu


class _Decoder(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode_image(z)


def _export(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, outputs: list[str]) -> None:
    axes = {name: {0: "batch"} for name in (input_name, *outputs)}
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated in favour of the dynamo one, which needs
        # onnxscript; for these small feed-forward graphs the older one is exact and enough.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=[input_name],
                          output_names=outputs, dynamic_axes=axes, opset_version=17)


def export_onnx(model: Any, folder: str | os.PathLike[str]) -> Path:
    """Write a LatentLab model as ``encoder.onnx``, ``decoder.onnx`` and ``latentlab-onnx.json``.

    The folder is written beside its destination and renamed into place; an existing folder is
    replaced only when it holds an ONNX export already (a manifest), never anything else.
    """
    from latentlab.core.models.base import LatentModel
    from latentlab.core.render import output_spec

    if isinstance(model, ExternalModel) or not isinstance(model, LatentModel):
        raise LatentLabError("export_onnx writes LatentLab's own models; a wrapped model is already yours")
    config = model.config
    if config.is_conditional:
        raise LatentLabError("conditional models cannot be exported to ONNX yet (their decoder also takes a label)")
    if hasattr(model, "fitted") and not model.fitted:
        raise LatentLabError("this PCA model has not been fitted yet; fit or train it first")
    target = Path(folder).expanduser()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MANIFEST_NAME).is_file())):
        raise LatentLabError(f"{target} exists and is not an ONNX export; choose a new folder name")
    if not target.parent.is_dir():
        raise LatentLabError(f"cannot write {target}: the folder '{target.parent}' does not exist")
    spec = output_spec(config)
    model = model.to("cpu").eval()
    has_encoder = config.capabilities.encoder
    variational = config.is_variational
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        enc_outputs = ["mu", "logvar"] if variational else ["mu"]
        x = torch.zeros(2, *config.input_shape)
        z = torch.zeros(2, config.latent_dim)
        with torch.no_grad():
            if has_encoder:
                _export(_Encoder(model, variational), x, tmp / ENCODER_NAME, "x", enc_outputs)
            _export(_Decoder(model), z, tmp / DECODER_NAME, "z", ["output"])
        manifest = {
            "format": "latentlab-onnx", "version": 1,
            "encoder": {"file": ENCODER_NAME, "input": "x", "outputs": enc_outputs} if has_encoder else None,
            "decoder": {"file": DECODER_NAME, "input": "z", "output": "output"},
            "latent_dim": config.latent_dim, "output": spec.kind,
            "output_range": "unit" if spec.kind == "image" else "raw",
            "feature_names": list(config.feature_names), "label_names": list(config.label_names),
            "name": f"{config.family_info.title} (ONNX)",
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.old"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LatentLabError(f"could not write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
