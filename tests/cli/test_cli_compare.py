"""``latentlab compare``, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.cli.test_cli import run_cli


def test_compare_writes_a_sheet_and_metrics_per_family(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    r = run_cli("compare", "--data", "moons", "--limit", "200", "--families", "pca,ae", "--epochs", "1",
                "--threads", "1", "--samples", "20", "--from", "3", "--to", "17", "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["families"]) == ["pca", "ae"]
    assert report["interpolation"]["from"]["index"] == 3 and report["interpolation"]["to"]["index"] == 17
    for name, metrics in report["families"].items():
        assert metrics["status"] == "finished"
        assert metrics["interpolation_mean_ratio"] > 0
        assert {"recon", "kl_per_dim", "active_units", "n"} <= set(metrics)
        assert f"{name:<10} interpolation off-data ratio {metrics['interpolation_mean_ratio']:.2f}" in r.stdout
    with Image.open(out / "compare.png") as sheet:
        width = sheet.size[0]
    assert width == 2 * 320 + 3 * 10   # two columns of 320 pixels with their gutters
    assert sorted(p.name for p in out.iterdir()) == ["compare.png", "metrics.json"]   # no GIF unasked
    # A second run into the same folder is refused before any training, then allowed with --force.
    again = run_cli("compare", "--data", "moons", "--limit", "200", "--families", "pca", "--epochs", "1",
                    "--out", str(out), block_qt=True)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    forced = run_cli("compare", "--data", "moons", "--limit", "200", "--families", "pca", "--epochs", "1",
                     "--threads", "1", "--samples", "20", "--out", str(out), "--force", "--gif", block_qt=True)
    assert forced.returncode == 0, forced.stderr
    assert list(json.loads((out / "metrics.json").read_text())["families"]) == ["pca"]
    assert sorted(p.name for p in out.iterdir()) == ["compare.gif", "compare.png", "metrics.json"]
    with Image.open(out / "compare.gif") as gif:
        assert gif.n_frames == 14 and gif.size[0] == 200 + 2 * 10   # one family walking 8 steps and back


def test_compare_mistakes_are_one_line(tmp_path: Path) -> None:
    for args, message in [
        (["--families", "pca,nope"], "unknown model family 'nope'"),
        (["--families", "cvae"], "class label"),
        (["--from", "2"], "both ends"),
        (["--classes", "full,half", "--from", "1", "--to", "2"], "not both"),
        (["--limit", "50", "--classes", "full,nope"], "no class 'nope'"),
    ]:
        r = run_cli("compare", "--data", "moons", *args, "--out", str(tmp_path / "x"), block_qt=True)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "x").exists()   # nothing written for a mistake
