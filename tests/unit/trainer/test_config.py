import pytest

from trainer.config import DEFAULTS, KEY_DOCS, dumps_config, load_config, parse_overrides
from trainer.schema import PRESETS
from trainer.errors import ConfigError


def test_defaults_are_the_published_run():
    # published-run-report.md "Run parameters" + the logs (448x448, upsampling, validation every 5 epochs)
    assert DEFAULTS["batch_size"] == 1 and DEFAULTS["epochs"] == 50 and DEFAULTS["learning_rate"] == 1.0
    assert DEFAULTS["delta_cls_loss"] == 0.01 and DEFAULTS["dilate"] == 1
    assert DEFAULTS["dyn_balanced_loss"] and DEFAULTS["frequency_sampling"] and DEFAULTS["gradient_adjustment"]
    assert not DEFAULTS["weighted_seg_loss"] and DEFAULTS["use_best_model"] and DEFAULTS["validate"]
    assert not DEFAULTS["validate_on_test"]
    assert DEFAULTS["dice_threshold"] == 2 and DEFAULTS["dice_threshold_factor"] == 1
    assert (DEFAULTS["input_height"], DEFAULTS["input_width"]) == (448, 448)
    assert DEFAULTS["architecture"] == "upsampling" and DEFAULTS["validation_n_epochs"] == 5
    assert set(KEY_DOCS) == set(DEFAULTS), "every key has a tooltip for the GUI form"
    assert set(PRESETS) >= {"published", "quick"}


def test_layering_file_preset_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "quick"\nepochs = 4\narchitecture = "original"\n')
    cfg = load_config(f, ["epochs=7", "decision_pooling=max", "dyn_balanced_loss=false"])
    assert cfg["input_height"] == PRESETS["quick"]["input_height"]
    assert cfg["epochs"] == 7 and cfg["architecture"] == "original" and cfg["decision_pooling"] == "max"
    assert cfg["dyn_balanced_loss"] is False
    # the resolved config round-trips through TOML
    g = tmp_path / "resolved.toml"
    g.write_text(dumps_config(cfg))
    assert load_config(g) == cfg


@pytest.mark.parametrize("override, words", [
    (["epochs=zero"], "epochs"),
    (["nonsense=1"], "unknown key"),
    (["input_height=100"], "multiple of 8"),
    (["architecture=resnet"], "original, upsampling"),
    (["device=gpu"], "device"),
    (["noequals"], "key=value"),
])
def test_bad_overrides_name_the_problem(override, words):
    with pytest.raises(ConfigError) as exc:
        load_config(None, override)
    assert words in str(exc.value)


def test_broken_config_file_names_the_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert "broken.toml" in str(exc.value) and "TOML" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "missing.toml")
    assert "missing.toml" in str(exc.value)


def test_override_types():
    assert parse_overrides(["learning_rate=1", "validate=no", "seed=5"]) == {"learning_rate": 1.0, "validate": False,
                                                                             "seed": 5}


# ------------------------------------------------------------------------------------------------- the schema
def test_every_key_has_bounds_or_choices_and_its_default_is_valid():
    from trainer.schema import GROUPS, KEYS

    for k in KEYS.values():
        assert k.group in GROUPS and k.title and k.help and k.published, k.name
        if k.type in (int, float):
            assert (k.min is not None and k.max is not None) or k.choices, f"{k.name} has no bounds"
        assert k.problem(k.default) is None, k.name
    assert load_config() == DEFAULTS


@pytest.mark.parametrize("override, words", [
    (["input_width=8192"], "between 64 and 4096"),
    (["num_workers=65"], "between 0 and 64"),
    (["learning_rate=0"], "learning_rate"),
    (["learning_rate=nan"], "finite"),
    (["seed=-1"], "between 0 and 2147483647"),
    (["val_fraction=1.0"], "val_fraction"),
    (["dice_threshold=3"], "choose one of 1, 2"),
    (["precision=fp16"], "auto, bf16, fp32"),
])
def test_schema_bounds_are_enforced(override, words):
    with pytest.raises(ConfigError) as exc:
        load_config(None, override)
    assert words in str(exc.value)


def test_report_names_and_docs_come_from_the_schema():
    from trainer.config import REPORT_NAMES
    from trainer.schema import KEYS

    assert REPORT_NAMES["delta_cls_loss"] == "Delta CLS Loss" and len(REPORT_NAMES) == 14
    assert KEY_DOCS["epochs"] == (KEYS["epochs"].group, KEYS["epochs"].help, KEYS["epochs"].published)
    assert list(DEFAULTS)[:3] == ["batch_size", "epochs", "learning_rate"]  # the report's order
