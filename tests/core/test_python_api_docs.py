"""Every Python example of docs/python-api.md runs, in order, on tiny data in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
BLOCK = re.compile(r"(<!-- no-test -->\n)?```python\n(.*?)```", re.S)


def _blocks() -> list[str]:
    return [code for skip, code in BLOCK.findall(PAGE.read_text("utf-8")) if not skip]


def test_the_page_has_examples_of_every_part() -> None:
    text = "\n".join(_blocks())
    for call in ("latentlab.train(", "latentlab.save_model(", "latentlab.load_model(", "latentlab.wrap(",
                 "latentlab.grid_search_codes(", "latentlab.export_onnx(", "video.save_mp4("):
        assert call in text, call


def test_the_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("imageio_ffmpeg", reason="the video extra is not installed")
    from tests.core.test_adapters import forget_external_families

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace: dict[str, object] = {}
    try:
        for k, code in enumerate(_blocks()):
            exec(compile(code, f"{PAGE.name} example {k + 1}", "exec"), namespace)  # noqa: S102
    finally:
        forget_external_families()
    printed = capsys.readouterr().out
    assert "2 epochs" in printed
    assert "wraps code of your own" in printed   # what save_model says of a wrapped model
    assert {"digits-vae", "digits-onnx", "path.gif", "path.mp4", "mine.safetensors"} <= {
        p.name for p in tmp_path.iterdir()}
    assert not (tmp_path / "mine").exists()
