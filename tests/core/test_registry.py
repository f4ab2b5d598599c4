"""The family registry: names, errors, capabilities, options, sequence shapes, docs, no torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import latentlab.core.models as models
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig, registry
from latentlab.core.models.registry import Capabilities, Family, Option

REPO = Path(__file__).resolve().parents[2]


def declare(name: str, **changes) -> Family:
    """A family that is never built: enough for configuration and registry checks."""
    values = dict(name=name, title=name.upper(), description=f"The {name} test family.",
                  capabilities=Capabilities(), build=lambda config: None)
    values.update(changes)
    return Family(**values)


@pytest.fixture
def registered():
    """Register families for one test and remove them afterwards."""
    added: list[str] = []

    def add(family: Family) -> Family:
        added.append(family.name)
        return registry.register(family)

    yield add
    for name in added:
        registry.unregister(name)


def test_the_built_in_families_in_menu_order() -> None:
    assert registry.names()[:5] == ("ae", "vae", "beta-vae", "cvae", "pca")
    assert models.FAMILIES == registry.names()
    assert models.FAMILY_NAMES["beta-vae"] == "β-VAE"
    assert registry.get("beta-vae").default("beta") == 4.0
    assert registry.get("vae").default_hidden("conv") == (32, 64)


@pytest.mark.parametrize("family, conditional, variational, trainable", [
    ("ae", False, False, True), ("vae", False, True, True), ("beta-vae", False, True, True),
    ("cvae", True, True, True), ("pca", False, False, False),
])
def test_config_traits_come_from_the_capabilities(family, conditional, variational, trainable) -> None:
    config = ModelConfig(family=family, num_classes=3)
    assert config.is_conditional is conditional and config.is_variational is variational
    assert config.capabilities.trainable is trainable and config.capabilities.output == "image"


def test_an_unknown_family_is_one_clear_error_listing_the_choices() -> None:
    with pytest.raises(LatentLabError, match=r"unknown model family 'wgan' \(choose from ae, vae, beta-vae, cvae, pca"):
        registry.get("wgan")
    with pytest.raises(LatentLabError, match="unknown model family 'wgan'"):
        ModelConfig(family="wgan")


def test_a_registered_family_is_known_everywhere_until_unregistered(registered) -> None:
    registered(declare("toy-flow", capabilities=Capabilities(conditional=True), archs=("mlp",)))
    assert "toy-flow" in registry.names() and "toy-flow" in models.FAMILIES
    config = ModelConfig(family="toy-flow", num_classes=4)
    assert config.is_conditional and config.family_info.title == "TOY-FLOW"
    with pytest.raises(LatentLabError, match="at least 2 classes"):
        ModelConfig(family="toy-flow")
    with pytest.raises(LatentLabError, match="unknown architecture 'conv' for the toy-flow family"):
        ModelConfig(family="toy-flow", arch="conv", num_classes=4)
    registry.unregister("toy-flow")
    with pytest.raises(LatentLabError, match="unknown model family 'toy-flow'"):
        ModelConfig(family="toy-flow", num_classes=4)


def test_a_name_is_registered_once_unless_replaced(registered) -> None:
    first = registered(declare("twice"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(declare("twice"))
    second = registry.register(declare("twice", title="Second"), replace=True)
    assert registry.get("twice") is second is not first


@pytest.mark.parametrize("changes, message", [
    ({"title": " "}, "title"),
    ({"description": "two\nlines"}, "one-line description"),
    ({"terms": ()}, "terms"),
    ({"terms": ("loss", "loss")}, "terms"),
    ({"optimizer_names": ()}, "optimizer_names"),
    ({"settings": ("colour",)}, "unknown settings"),
])
def test_a_malformed_family_is_refused(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        declare("fine", **changes)
    with pytest.raises(ValueError, match="lower case"):
        declare("Bad Name")
    with pytest.raises(ValueError, match="output kind"):
        Capabilities(output="audio")


def test_sequence_families_take_t_by_f_shapes_with_named_features(registered) -> None:
    registered(declare("toy-seq", capabilities=Capabilities(output="sequence")))
    config = ModelConfig(family="toy-seq", input_shape=(64, 3), feature_names=("x", "y", "pen"))
    assert config.input_shape == (64, 3) and config.feature_names == ("x", "y", "pen")
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(LatentLabError, match=r"\(T, F\)"):
        ModelConfig(family="toy-seq", input_shape=(1, 28, 28))
    with pytest.raises(LatentLabError, match="needs 3 feature names"):
        ModelConfig(family="toy-seq", input_shape=(64, 3), feature_names=("x", "y"))
    # An image family keeps its own (C, H, W) rule and has no feature names.
    with pytest.raises(LatentLabError, match=r"\(C, H, W\)"):
        ModelConfig(family="vae", input_shape=(64, 3))
    with pytest.raises(LatentLabError, match="feature names"):
        ModelConfig(family="vae", feature_names=("x",))


def test_family_options_are_checked_filled_in_and_round_trip(registered) -> None:
    registered(declare("toy-opt", options=(
        Option("temperature", 0.5, "softmax temperature", minimum=0.0),
        Option("layers", 2, "how many", minimum=1, maximum=8),
        Option("mode", "fast", "speed", choices=("fast", "slow")),
        Option("tied", False, "share weights"),
    )))
    config = ModelConfig(family="toy-opt", options={"layers": 3})
    assert dict(config.options) == {"temperature": 0.5, "layers": 3, "mode": "fast", "tied": False}
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.options["layers"] == 3
    assert ModelConfig(family="toy-opt", options={"temperature": 2}).options["temperature"] == 2.0
    cases = [({"depth": 1}, "has no option 'depth' .*its options: temperature, layers, mode, tied"),
             ({"layers": 9}, "at most 8"), ({"layers": 2.5}, "whole number"), ({"tied": 1}, "true or false"),
             ({"mode": "medium"}, "one of fast, slow"), ({"temperature": "hot"}, "a number")]
    for options, message in cases:
        with pytest.raises(LatentLabError, match=message):
            ModelConfig(family="toy-opt", options=options)
    family = registry.get("toy-opt")
    assert family.option("tied").parse("yes") is True and family.option("layers").parse("4") == 4
    with pytest.raises(LatentLabError, match="has no options"):
        ModelConfig(family="pca", options={"layers": 3})


def test_image_configs_are_written_as_before() -> None:
    bundled = REPO / "resources" / "models" / "mnist-vae-2d" / "config.json"
    block = json.loads(bundled.read_text())["model"]
    config = ModelConfig.from_dict(block)
    # No new keys for an image model: older versions of LatentLab still open the file.
    assert config.to_dict() == block


def test_the_registry_and_configs_load_without_torch() -> None:
    code = ("import sys\n"
            "from latentlab.core.models import ModelConfig, registry\n"
            "names = registry.names()\n"
            "caps = [f.capabilities.describe() for f in registry.families()]\n"
            "ModelConfig(family='cvae', num_classes=3)\n"
            "print(len(names), 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(registry.BUILTIN_MODULES)), "False"]


def test_the_readme_table_is_the_registry() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- family-table:[^>]*-->\n(.*?)\n<!-- /family-table -->", text, re.S)
    assert found, "README.md lost its family table markers"
    # To refresh it: python -c "from latentlab.core.models.registry import family_table; print(family_table())"
    assert found.group(1) == registry.family_table()
    for family in registry.families()[:5]:
        assert f"| `{family.name}` | {family.title} |" in found.group(1)
