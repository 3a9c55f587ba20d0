from typing import Literal

import pydantic
import pytest

from lemur.core.config import ConfigModel, load_config
from lemur.core.errors import ConfigError


class Optimizer(ConfigModel):
    name: Literal["adam", "sgd"] = pydantic.Field("adam", description="optimizer")
    lr: float = pydantic.Field(4e-5, description="peak learning rate")


class TrainConfig(ConfigModel):
    steps: int = pydantic.Field(description="training steps")
    optimizer: Optimizer = pydantic.Field(default_factory=Optimizer, description="optimizer settings")
    tags: list[str] = pydantic.Field(default_factory=list, description="free-form tags")


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def error_for(path, **kwargs):
    with pytest.raises(ConfigError) as error:
        load_config(path, TrainConfig, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    assert error.value.exit_code == 2
    return message


def test_valid_config_is_frozen(tmp_path):
    config = load_config(write(tmp_path, "steps: 10\noptimizer: {lr: 0.1}\n"), TrainConfig)
    assert config.steps == 10 and config.optimizer.lr == 0.1 and config.optimizer.name == "adam"
    with pytest.raises(pydantic.ValidationError):
        config.steps = 3


def test_unknown_nested_key_lists_allowed_keys(tmp_path):
    path = write(tmp_path, "steps: 10\noptimizer: {lr: 0.1, beta: 0.9}\n")
    assert error_for(path) == f"{path}: unknown key 'optimizer.beta'; allowed keys: lr, name"


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "steps: 1\nstpes: 2\n")
    assert error_for(path) == f"{path}: unknown key 'stpes'; allowed keys: optimizer, steps, tags"


def test_wrong_type_names_field_and_value(tmp_path):
    path = write(tmp_path, "steps: many\n")
    assert error_for(path) == (
        f"{path}: field 'steps': Input should be a valid integer, unable to parse string as an integer (got 'many')"
    )


def test_literal_lists_allowed_values(tmp_path):
    path = write(tmp_path, "steps: 1\noptimizer: {name: adamw}\n")
    assert error_for(path) == f"{path}: field 'optimizer.name' is 'adamw'; allowed values: 'adam' or 'sgd'"


def test_list_item_type(tmp_path):
    path = write(tmp_path, "steps: 1\ntags: [a, {b: 1}]\n")
    assert error_for(path).startswith(f"{path}: field 'tags[1]': Input should be a valid string")


def test_missing_required_and_counts_the_rest(tmp_path):
    path = write(tmp_path, "optimizer: {name: x}\n")
    assert error_for(path) == f"{path}: field 'steps' is required but missing (and 1 more problem)"


def test_file_problems(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert error_for(missing) == f"{missing}: config file does not exist"
    bad = write(tmp_path, "steps: [1, 2\n")
    assert error_for(bad).startswith(f"{bad}: not valid YAML at line 2, column 1")
    listing = write(tmp_path, "- 1\n- 2\n")
    assert error_for(listing) == f"{listing}: expected a mapping of keys to values at the top level, got list"


def test_a_key_set_twice_with_different_values_needs_explicit_override(tmp_path):
    path = write(tmp_path, "steps: 10\n")
    assert "is 10 in the file but 20 on the command line" in error_for(path, overrides={"steps": 20})
    assert load_config(path, TrainConfig, overrides={"steps": 20}, allow_override=True).steps == 20
    assert load_config(path, TrainConfig, overrides={"steps": 10, "tags": None}).steps == 10


def test_a_key_given_twice_in_one_file_is_an_error(tmp_path):
    top = write(tmp_path, "steps: 10\ntags: [a]\nsteps: 20\n")
    assert error_for(top) == f"{top}: not valid YAML at line 3, column 1: key 'steps' appears twice (first at line 1)"
    nested = write(tmp_path, "steps: 1\noptimizer:\n  lr: 0.1\n  name: sgd\n  lr: 0.2\n")
    assert "line 5, column 3: key 'lr' appears twice (first at line 3)" in error_for(nested)


def test_a_merge_key_may_still_be_overridden(tmp_path):
    from lemur.core.config import read_yaml_mapping

    path = tmp_path / "merge.yaml"
    path.write_text("defaults: &d {lr: 0.1, name: sgd}\nsteps: 3\noptimizer:\n  <<: *d\n  lr: 0.2\n")
    assert read_yaml_mapping(path)["optimizer"] == {"lr": 0.2, "name": "sgd"}
