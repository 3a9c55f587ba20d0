"""The ``--model`` spec syntax and backend construction (lemur.eval.models.spec)."""

from __future__ import annotations

import pytest

from lemur.core.errors import ConfigError, UnknownComponentError
from lemur.eval.models.replay import ReplayBackend, ReplayFileError
from lemur.eval.models.spec import create_backend, parse_model_spec


@pytest.mark.parametrize(
    ("text", "backend", "target", "options"),
    [
        ("replay:runs/x.jsonl", "replay", "runs/x.jsonl", {}),
        ("openai:http://127.0.0.1:8000/v1,model=tiny", "openai", "http://127.0.0.1:8000/v1", {"model": "tiny"}),
        ("hf:/path/to/model,batch_size=8,dtype=bf16", "hf", "/path/to/model", {"batch_size": "8", "dtype": "bf16"}),
        ("test-bisect", "test-bisect", None, {}),
        ("test-bisect,tag=v2", "test-bisect", None, {"tag": "v2"}),
        ("hf:C:/models/x", "hf", "C:/models/x", {}),
    ],
)
def test_parse_model_spec(text, backend, target, options):
    spec = parse_model_spec(text)
    assert (spec.backend, spec.target, spec.options) == (backend, target, options)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected BACKEND"),
        (":x", "expected BACKEND"),
        ("replay:", "nothing after 'replay:'"),
        ("hf:/m,batch_size", "must look like key=value"),
        ("hf:/m,1x=2", "must look like key=value"),
        ("hf:/m,a=1,a=2", "given twice"),
    ],
)
def test_parse_model_spec_rejects_malformed(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_model_spec(text)


def test_create_backend_builds_registered_backend_with_arg_and_options(eval_test_plugin, tmp_path):
    model = create_backend("test-bisect,tag=v9")
    assert isinstance(model, eval_test_plugin.BisectModel)
    assert model.identity == {"backend": "test-bisect", "tag": "v9"}
    path = tmp_path / "r.jsonl"
    path.write_text('{"request": {"prompt": "a"}, "output": "b"}\n')
    replay = create_backend(f"replay:{path}")
    assert isinstance(replay, ReplayBackend)
    assert replay.path == path


def test_create_backend_errors(eval_test_plugin, tmp_path):
    with pytest.raises(UnknownComponentError, match="unknown model-backend 'replai': did you mean 'replay'"):
        create_backend("replai:x.jsonl")
    with pytest.raises(ConfigError, match="accepts: tag"):
        create_backend("test-bisect,colour=red")
    with pytest.raises(ReplayFileError, match="does not exist"):
        create_backend(f"replay:{tmp_path / 'missing.jsonl'}")
