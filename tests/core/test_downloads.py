"""Standard data sets: download, verify, resume and read, against a local HTTP server only."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import struct
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.data import downloads, load_dataset
from latentlab.core.errors import LatentLabError


# -- fixture files in the real formats ---------------------------------------------------------
def idx_images(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return gzip.compress(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes(), mtime=0)


def idx_labels(labels: np.ndarray) -> bytes:
    return gzip.compress(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes(), mtime=0)


def digits(n: int, seed: int, side: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


def cifar_archive(train_per_batch: int = 2, test: int = 3) -> tuple[bytes, np.ndarray]:
    """A cifar-10-binary.tar.gz with tiny batches; returns it and the training records."""
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    records = []
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in [*((f"data_batch_{k}.bin", train_per_batch) for k in range(1, 6)), ("test_batch.bin", test)]:
            rec = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
            rec[:, 0] = rng.integers(0, 10, n)
            if name.startswith("data"):
                records.append(rec)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = rec.nbytes
            tar.addfile(info, io.BytesIO(rec.tobytes()))
    return buf.getvalue(), np.concatenate(records)


def emnist_archive(images: np.ndarray, labels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for split in ("train", "test"):
            zf.writestr(f"gzip/emnist-letters-{split}-images-idx3-ubyte.gz", idx_images(images))
            zf.writestr(f"gzip/emnist-letters-{split}-labels-idx1-ubyte.gz", idx_labels(labels))
    return buf.getvalue()


# -- a local server with Range support and ways to misbehave ------------------------------------
class Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, str] = {}    # path -> "drop-once", "ignore-range", "garbage", "too-long"
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.requests.append((self.path, self.headers.get("Range")))
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                how = owner.behaviour.get(self.path, "")
                if how == "garbage":
                    body = b"<html>not the file</html>" * (len(body) // 25 + 1)
                    body = body[:len(body)]
                if how == "too-long":
                    body = body + b"\0" * 1000
                start = 0
                wanted = self.headers.get("Range")
                if wanted and how != "ignore-range" and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                chunk = body[start:]
                if how == "drop-once":
                    owner.behaviour[self.path] = ""
                    self.wfile.write(chunk[: len(chunk) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    srv = Server()
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, srv.url)
    try:
        yield srv
    finally:
        srv.close()


def publish(srv: Server, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, bytes]) -> None:
    """Serve ``files`` as data set ``name`` and make them the files its table expects."""
    spec = downloads.SETS[name]
    remote = tuple(downloads.RemoteFile(f, len(data), hashlib.sha256(data).hexdigest()) for f, data in files.items())
    monkeypatch.setitem(downloads.SETS, name, dataclasses.replace(spec, files=remote))
    for f, data in files.items():
        srv.files[f"/{name}/{f}"] = data


def fashion_files() -> dict[str, bytes]:
    train, test = digits(6, 0), digits(4, 1)
    return {"train-images-idx3-ubyte.gz": idx_images(train), "train-labels-idx1-ubyte.gz": idx_labels(np.arange(6) % 10),
            "t10k-images-idx3-ubyte.gz": idx_images(test), "t10k-labels-idx1-ubyte.gz": idx_labels(np.array([9, 8, 7, 6]))}


# -- tests --------------------------------------------------------------------------------------
def test_the_official_table_is_complete() -> None:
    assert set(downloads.NAMES) == {"fashion-mnist", "kmnist", "mnist-full", "emnist-letters", "cifar10"}
    for spec in downloads.SETS.values():
        assert spec.urls and all(u.startswith(("http://", "https://")) and u.endswith("/") for u in spec.urls)
        assert spec.licence and spec.classes
        for f in spec.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.size > 0


def test_the_bundled_mnist_test_split_matches_the_official_hashes() -> None:
    from latentlab.resources_path import resource_path

    spec = downloads.SETS["mnist-full"]
    for f in spec.files[2:]:
        assert hashlib.sha256((resource_path("mnist") / f.name).read_bytes()).hexdigest() == f.sha256


def test_a_data_set_is_downloaded_once_verified_and_read(server: Server, monkeypatch, tmp_path: Path) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    seen: list[tuple[str, int, int]] = []
    paths = downloads.ensure("fashion-mnist", progress=lambda *a: seen.append(a))
    assert [p.read_bytes() for p in paths] == list(files.values())
    assert paths[0].parent == tmp_path / "cache" / "fashion-mnist"
    assert seen[-1] == ("t10k-labels-idx1-ubyte.gz", len(files["t10k-labels-idx1-ubyte.gz"]),
                        len(files["t10k-labels-idx1-ubyte.gz"]))
    ds = load_dataset("fashion-mnist")
    assert ds.images.shape == (6, 1, 28, 28) and ds.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert ds.class_names[9] == "Ankle boot" and ds.source == {"kind": "fashion-mnist"}
    assert torch.equal((ds.images * 255).round().to(torch.uint8)[:, 0], torch.from_numpy(digits(6, 0)))
    test = load_dataset({"kind": "fashion-mnist", "split": "test"})
    assert test.labels.tolist() == [9, 8, 7, 6] and load_dataset(test.source).labels.tolist() == [9, 8, 7, 6]
    count = len(server.requests)
    load_dataset("fashion-mnist", limit=2)
    assert len(server.requests) == count   # cached: nothing fetched again
    assert downloads.is_cached("fashion-mnist")


def test_an_interrupted_download_resumes_with_a_range_request(server: Server, monkeypatch) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    path = "/fashion-mnist/train-images-idx3-ubyte.gz"
    server.behaviour[path] = "drop-once"
    downloads.ensure("fashion-mnist")
    asked = [r for p, r in server.requests if p == path]
    half = len(files["train-images-idx3-ubyte.gz"]) // 2
    assert asked == [None, f"bytes={half}-"]
    assert load_dataset("fashion-mnist").images.shape == (6, 1, 28, 28)


def test_a_part_left_by_an_earlier_run_is_continued(server: Server, monkeypatch, tmp_path: Path) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    folder = tmp_path / "cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    data = files["train-images-idx3-ubyte.gz"]
    (folder / "train-images-idx3-ubyte.gz.part").write_bytes(data[:100])
    downloads.ensure("fashion-mnist")
    assert ("/fashion-mnist/train-images-idx3-ubyte.gz", "bytes=100-") in server.requests
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == data
    assert not (folder / "train-images-idx3-ubyte.gz.part").exists()


def test_a_server_that_ignores_range_restarts_from_zero(server: Server, monkeypatch, tmp_path: Path) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    folder = tmp_path / "cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte.gz.part").write_bytes(b"stale bytes")
    server.behaviour["/fashion-mnist/train-images-idx3-ubyte.gz"] = "ignore-range"
    downloads.ensure("fashion-mnist")
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]


def test_a_checksum_mismatch_deletes_the_file_and_says_so(server: Server, monkeypatch, tmp_path: Path) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    server.files["/fashion-mnist/train-labels-idx1-ubyte.gz"] = b"x" * len(files["train-labels-idx1-ubyte.gz"])
    with pytest.raises(LatentLabError, match="SHA-256 is .* not the expected"):
        load_dataset("fashion-mnist")
    folder = tmp_path / "cache" / "fashion-mnist"
    assert not (folder / "train-labels-idx1-ubyte.gz").exists()
    assert not (folder / "train-labels-idx1-ubyte.gz.part").exists()


@pytest.mark.parametrize("how", ["garbage", "too-long"])
def test_a_server_sending_garbage_is_refused(server: Server, monkeypatch, tmp_path: Path, how: str) -> None:
    publish(server, monkeypatch, "fashion-mnist", fashion_files())
    server.behaviour["/fashion-mnist/train-images-idx3-ubyte.gz"] = how
    with pytest.raises(LatentLabError, match="not the expected"):
        downloads.ensure("fashion-mnist")
    assert not any((tmp_path / "cache" / "fashion-mnist").glob("train-images*"))


def test_offline_names_the_url_and_the_cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:   # a port with nobody listening: the connection is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(LatentLabError) as err:
        load_dataset("kmnist")
    text = str(err.value)
    assert f"http://127.0.0.1:{port}/kmnist/train-images-idx3-ubyte.gz" in text
    assert str(tmp_path / "cache" / "kmnist" / "train-images-idx3-ubyte.gz") in text
    assert "offline" in text


def test_a_file_placed_by_hand_is_checked(server: Server, monkeypatch, tmp_path: Path) -> None:
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    folder = tmp_path / "cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    assert load_dataset("fashion-mnist").images.shape == (6, 1, 28, 28)
    assert server.requests == []   # everything was there
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"wrong")
    with pytest.raises(LatentLabError, match="not the expected fashion-mnist file"):
        load_dataset("fashion-mnist")


def test_a_cancelled_download_keeps_its_part(server: Server, monkeypatch, tmp_path: Path) -> None:
    publish(server, monkeypatch, "fashion-mnist", fashion_files())
    with pytest.raises(LatentLabError, match="cancelled"):
        downloads.ensure("fashion-mnist", should_stop=lambda: True)
    assert not (tmp_path / "cache" / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists()


def test_cifar10_is_read_from_its_binary_batches(server: Server, monkeypatch) -> None:
    archive, records = cifar_archive()
    publish(server, monkeypatch, "cifar10", {"cifar-10-binary.tar.gz": archive})
    ds = load_dataset("cifar10")
    assert ds.images.shape == (10, 3, 32, 32) and ds.class_names[0] == "airplane"
    assert ds.labels.tolist() == records[:, 0].tolist()
    # Channel planes: the first 1,024 bytes are red, row by row.
    assert torch.equal((ds.images[3, 0] * 255).round().to(torch.uint8),
                       torch.from_numpy(records[3, 1:1025].reshape(32, 32)))
    assert len(load_dataset({"kind": "cifar10", "split": "test"})) == 3


def test_emnist_letters_are_transposed_upright_and_labelled_from_zero(server: Server, monkeypatch) -> None:
    stored = np.zeros((2, 28, 28), np.uint8)
    stored[:, 0, :] = 255     # NIST stores each image transposed: a top row is a left column upright
    publish(server, monkeypatch, "emnist-letters", {"gzip.zip": emnist_archive(stored, np.array([1, 26]))})
    ds = load_dataset("emnist-letters")
    assert ds.labels.tolist() == [0, 25] and ds.class_names[25] == "Z"
    assert bool((ds.images[0, 0, :, 0] == 1).all()) and float(ds.images[0, 0, :, 1:].sum()) == 0.0


def test_unknown_names_and_splits_are_refused() -> None:
    with pytest.raises(LatentLabError, match="choose from"):
        downloads.ensure("imagenet")
    with pytest.raises(LatentLabError, match="split must be one of"):
        downloads.load_standard("kmnist", split="validation")


def test_the_command_line_downloads_with_progress_then_trains(server: Server, monkeypatch, tmp_path: Path) -> None:
    from tests.cli.test_cli import run_cli

    files = {"train-images-idx3-ubyte.gz": idx_images(digits(40, 5)),
             "train-labels-idx1-ubyte.gz": idx_labels(np.arange(40) % 10),
             "t10k-images-idx3-ubyte.gz": idx_images(digits(4, 6)),
             "t10k-labels-idx1-ubyte.gz": idx_labels(np.arange(4))}
    publish(server, monkeypatch, "kmnist", files)
    table = [(f.name, f.size, f.sha256) for f in downloads.SETS["kmnist"].files]
    setup = ("import dataclasses\nfrom latentlab.core.data import downloads\n"
             f"downloads.SETS['kmnist'] = dataclasses.replace(downloads.SETS['kmnist'], files=tuple("
             f"downloads.RemoteFile(*f) for f in {table!r}))\n")
    out = tmp_path / "model"
    r = run_cli("train", "--data", "kmnist", "--epochs", "1", "--hidden", "16", "--threads", "1",
                "--out", str(out), setup=setup)
    assert r.returncode == 0, r.stderr
    assert "downloading train-images-idx3-ubyte.gz" in r.stderr
    assert (out / "config.json").is_file()
    assert '"kind": "kmnist"' in (out / "config.json").read_text()
