"""Training plans: one rule for defaults, checks and continued epoch numbers (CLI and GUI)."""

from __future__ import annotations

import pytest
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.plan import TrainingSettings, continue_history, plan_training


def toy(labels: bool = True, size: int = 8) -> Dataset:
    images = torch.rand(30, 1, size, size, generator=torch.Generator().manual_seed(1))
    return Dataset(name="toy", images=images, labels=(torch.arange(30) % 3) if labels else None,
                   class_names=("a", "b", "c") if labels else (), source={"kind": "toy"})


def test_family_defaults_come_from_the_plan() -> None:
    d = toy()
    beta = plan_training(TrainingSettings(family="beta-vae"), data=d).model_config
    assert beta.beta == 4.0 and beta.hidden == (400,)
    vae = plan_training(TrainingSettings(family="vae", arch="conv"), data=d).model_config
    assert vae.beta == 1.0 and vae.hidden == (32, 64)
    chosen = plan_training(TrainingSettings(family="beta-vae", beta=2.5, hidden=(64, 32)), data=d).model_config
    assert chosen.beta == 2.5 and chosen.hidden == (64, 32)
    cvae = plan_training(TrainingSettings(family="cvae"), data=d).model_config
    assert cvae.num_classes == 3 and cvae.label_names == ("a", "b", "c")
    assert vae.num_classes == 0


def test_a_conditional_family_without_labels_is_a_clear_error() -> None:
    with pytest.raises(LatentLabError, match="needs labelled data"):
        plan_training(TrainingSettings(family="cvae"), data=toy(labels=False))


def test_no_data_is_a_clear_error() -> None:
    with pytest.raises(LatentLabError, match="Choose a data set"):
        plan_training(TrainingSettings())


def test_train_settings_and_overrides_reach_the_train_config() -> None:
    plan = plan_training(TrainingSettings(epochs=3, lr=0.01, batch_size=7, seed=5), data=toy(),
                         threads=1, progress_interval_s=0.25)
    tc = plan.train_config
    assert (tc.epochs, tc.lr, tc.batch_size, tc.seed, tc.threads, tc.progress_interval_s) == (3, 0.01, 7, 5, 1, 0.25)
    assert tc.precision == "auto"
    assert plan_training(TrainingSettings(precision="fp32"), data=toy()).train_config.precision == "fp32"
    with pytest.raises(LatentLabError, match="learning rate"):
        plan_training(TrainingSettings(lr=0.0), data=toy())


def test_continuing_copies_the_model_and_numbers_epochs_after_its_history() -> None:
    d = toy()
    first = plan_training(TrainingSettings(family="ae", latent_dim=3, hidden=(16,)), data=d)
    from latentlab.core.models import build_model

    model = build_model(first.model_config)
    history = [{"epoch": 1, "train": {"loss": 3.0}}, {"epoch": 2, "train": {"loss": 2.0}}]
    plan = plan_training(TrainingSettings(continue_training=True, family="vae", latent_dim=9), data=d,
                         model=model, history=history)
    assert plan.continues and plan.model_config == model.config   # the model's own settings win
    assert plan.initial is not model                               # the trainer gets its own copy
    for k, v in model.state_dict().items():
        torch.testing.assert_close(plan.initial.state_dict()[k], v)
    assert plan.first_epoch == 3
    full = plan.full_history([{"epoch": 1, "train": {"loss": 1.5}}, {"epoch": 2, "train": {"loss": 1.0}}])
    assert [h["epoch"] for h in full] == [1, 2, 3, 4]
    assert full[2]["train"]["loss"] == 1.5


def test_continuing_needs_a_model_that_takes_the_data() -> None:
    from latentlab.core.models import ModelConfig, build_model

    model = build_model(ModelConfig(family="ae", input_shape=(1, 8, 8), hidden=(8,)))
    with pytest.raises(LatentLabError, match="no model to continue"):
        plan_training(TrainingSettings(continue_training=True), data=toy())
    with pytest.raises(LatentLabError, match="cannot continue on this data.*expects items of shape 1×8×8"):
        plan_training(TrainingSettings(continue_training=True), data=toy(size=10), model=model)


def test_a_new_model_starts_at_epoch_one() -> None:
    plan = plan_training(TrainingSettings(), data=toy(), history=[{"epoch": 4}])
    assert not plan.continues and plan.first_epoch == 1
    assert [h["epoch"] for h in plan.full_history([{"epoch": 1}, {"epoch": 2}])] == [1, 2]


def test_continue_history_tolerates_hand_edited_entries() -> None:
    prior = [{"epoch": 1}, "junk", {"epoch": True}, {"epoch": 5}]
    # Entries that are not dicts are dropped; a non-number epoch does not count as the last one.
    assert [h["epoch"] for h in continue_history(prior, [{"epoch": 1}, {}])] == [1, True, 5, 6, 7]
    # Without any epoch numbers the count of entries is the last epoch.
    assert continue_history([{}, {}], [{"epoch": 1}])[-1]["epoch"] == 3


def test_loaded_data_is_reused_when_the_settings_name_it() -> None:
    d = toy()
    assert plan_training(TrainingSettings(data={"kind": "toy"}), data=d).data is d
    mnist = plan_training(TrainingSettings(data="mnist", limit=50), data=d).data
    assert mnist is not d and len(mnist) == 50


def test_settings_round_trip_through_a_dict() -> None:
    s = TrainingSettings(data="moons", family="beta-vae", hidden=(64, 32), beta=3.0, continue_training=True)
    d = s.to_dict()
    assert d["hidden"] == [64, 32]
    assert TrainingSettings.from_dict({**d, "from_the_future": 1}) == s
