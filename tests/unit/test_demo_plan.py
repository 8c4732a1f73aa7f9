"""The demo's plan: the arithmetic that sizes the quick preset to the measured step time."""
from trainer.training.demo_plan import MAX_EPOCHS, MAX_TRAIN_POS, MIN_EPOCHS, MIN_TRAIN_POS, choose_plan


def test_fast_machine_gets_the_full_demo_at_the_largest_size():
    plan = choose_plan({(128, 128): 0.1, (128, 64): 0.05}, "bf16")
    assert (plan.height, plan.width) == (128, 128)
    assert (plan.train_pos, plan.epochs) == (MAX_TRAIN_POS, MAX_EPOCHS)
    assert plan.estimate_s <= 300
    assert "at 128x128 bf16 -> 10 epochs x 144 images" in plan.explain()


def test_slow_machine_gets_a_smaller_size_within_budget():
    plan = choose_plan({(128, 128): 2.0, (128, 96): 1.5, (128, 64): 1.0}, "fp32")
    assert (plan.height, plan.width) != (128, 128)
    assert plan.estimate_s <= 300
    assert plan.train_pos >= MIN_TRAIN_POS and plan.epochs >= MIN_EPOCHS


def test_too_slow_machine_gets_the_smallest_demo_and_an_honest_estimate():
    plan = choose_plan({(128, 128): 20.0, (128, 64): 10.0}, "fp32")
    assert (plan.height, plan.width, plan.train_pos, plan.epochs) == (128, 64, MIN_TRAIN_POS, MIN_EPOCHS)
    assert plan.estimate_s > 300
    assert plan.dataset_counts()["size"] == (128, 64)
    assert f"epochs={MIN_EPOCHS}" in plan.overrides()


def test_saved_plan_is_applied_and_the_users_set_wins(tmp_path, monkeypatch):
    import json

    from trainer.config import load_config
    from trainer.training.demo_plan import plan_for_config

    monkeypatch.delenv("CRACKVIEWER_THREADS", raising=False)
    plan = choose_plan({(128, 128): 2.0, (128, 64): 1.0}, "fp32")
    plan.threads = 1
    (tmp_path / "demo_plan.json").write_text(json.dumps(plan.__dict__))
    cfg = load_config(None, ["epochs=3", "device=cpu"], preset="quick")
    again = plan_for_config(cfg, ["epochs=3", "device=cpu"], tmp_path / "demo_plan.json")
    assert again == plan  # reloaded, not re-measured
    assert cfg["epochs"] == 3  # the user's --set wins over the plan
    assert (cfg["input_height"], cfg["input_width"]) == (plan.height, plan.width)
    import os

    assert os.environ["CRACKVIEWER_THREADS"] == "1"
    monkeypatch.delenv("CRACKVIEWER_THREADS")


def test_one_step_is_timed_with_the_trainers_own_model_and_losses():
    from trainer.training.demo_plan import measure_step_seconds

    assert measure_step_seconds((64, 64), "fp32", steps=1, warmup=0) > 0
