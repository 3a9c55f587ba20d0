"""The shipped pre-training recipes validate, and the 70B one carries the paper's hyperparameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from lemur.train.jax.configs import get_preset
from lemur.train.jax.optimizer import learning_rate_schedule
from lemur.train.jax.train import load_train_config

RECIPES = Path(__file__).resolve().parents[4] / "recipes"


def test_70b_recipe_matches_the_paper() -> None:
    config = load_train_config(RECIPES / "lemur-70b-pretrain-train.yaml")
    model = get_preset(config.model.preset, **config.model.overrides)
    assert (model.num_layers, model.hidden_size, model.num_heads, model.num_kv_heads) == (80, 8192, 64, 8)
    assert model.dtype == "bfloat16" and model.param_dtype == "float32"
    opt = config.optimizer
    assert (opt.b1, opt.b2, opt.peak_lr, opt.warmup_steps, opt.clip_norm) == (0.9, 0.95, 4e-5, 2000, 1.0)
    assert opt.end_lr == pytest.approx(0.1 * opt.peak_lr, rel=1e-12)
    assert config.batch_size * 4096 == 4_194_304  # 4M-token batches of 4,096-token rows
    assert config.steps == opt.total_steps and abs(config.steps * 4_194_304 - 90e9) < 4_194_304
    assert float(learning_rate_schedule(opt)(opt.total_steps)) == pytest.approx(4e-6, rel=1e-6)


def test_debug_recipe_validates() -> None:
    config = load_train_config(RECIPES / "lemur-debug-pretrain-train.yaml")
    assert config.model.preset == "debug" and config.batch_size % config.grad_accum_steps == 0


def test_bad_model_settings_are_one_line_config_errors() -> None:
    from lemur.core.errors import ConfigError

    with pytest.raises(ConfigError, match="model: dtype 'fp8'; allowed values: float32, bfloat16, float16"):
        get_preset("debug", dtype="fp8")
    with pytest.raises(ConfigError, match="model override 'colour' is not a field; allowed keys: attention, "):
        get_preset("debug", colour=1)
    with pytest.raises(ConfigError, match="model preset '65b' does not exist; allowed values: debug, 100m"):
        get_preset("65b")
    with pytest.raises(ConfigError, match="num_heads 64 is not a multiple of num_kv_heads 6"):
        get_preset("70b", num_kv_heads=6)
