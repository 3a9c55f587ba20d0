"""``lemur serve`` through the official ``openai`` Python SDK: answers, ``usage``, and fields it refuses."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="lemur serve tests need fastapi: pip install 'lemur-eval[serve]'")
pytest.importorskip("uvicorn", reason="lemur serve tests need uvicorn: pip install 'lemur-eval[serve]'")
openai = pytest.importorskip("openai", reason="the SDK tests need the openai package: pip install openai")

from lemur.eval.models.base import GenerationRequest, Message  # noqa: E402

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def client(hf_backend, lemur_serve):
    """An ``openai.OpenAI`` client of the tiny hf backend served on a free 127.0.0.1 port."""
    with lemur_serve(hf_backend) as (_server, url):
        sdk = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        yield sdk
        sdk.close()


def reference_tokens(hf_backend, text: str, bos: bool) -> int:
    ids = hf_backend.tokenizer(text, add_special_tokens=False).input_ids
    return len(ids) + (1 if bos else 0)


def test_completion_through_the_sdk_equals_hf_and_counts_usage(client, hf_backend):
    prompts = ["The quick brown", "def add(a, b):\n"]
    response = client.completions.create(model="tiny", prompt=prompts, max_tokens=8, temperature=0, user="u1", seed=3)
    expected = hf_backend.generate([GenerationRequest(prompt=p, max_tokens=8) for p in prompts])
    assert [choice.text for choice in response.choices] == [g.text for g in expected]
    prompt_tokens = sum(reference_tokens(hf_backend, p, hf_backend.add_bos) for p in prompts)
    assert response.usage.prompt_tokens == prompt_tokens
    assert response.usage.completion_tokens == 16  # 8 each: the tiny model never emits EOS
    assert response.usage.total_tokens == prompt_tokens + 16


def test_usage_counts_the_tokens_generated_up_to_a_stop_string(client, hf_backend):
    free = client.completions.create(model="tiny", prompt="SELECT", max_tokens=12, temperature=0)
    text = free.choices[0].text
    assert free.usage.completion_tokens == 12
    stop = text[len(text) // 2 :][:3]  # ends generation part-way
    stopped = client.completions.create(model="tiny", prompt="SELECT", max_tokens=12, temperature=0, stop=[stop])
    assert stopped.choices[0].text == text[: text.find(stop)] and stopped.choices[0].finish_reason == "stop"
    # Counted independently: greedy decoding by hand, then the fewest generated tokens whose text holds the stop.
    import torch

    tokenizer = hf_backend.tokenizer
    ids = [tokenizer.bos_token_id, *tokenizer("SELECT", add_special_tokens=False).input_ids]
    start = len(ids)
    with torch.no_grad():
        for _ in range(12):
            ids.append(int(hf_backend.model(torch.tensor([ids])).logits[0, -1].argmax()))
    decoded = [tokenizer.decode(ids[start : start + k], clean_up_tokenization_spaces=False) for k in range(1, 13)]
    assert decoded[-1] == text
    assert stopped.usage.completion_tokens == next(k for k, part in enumerate(decoded, start=1) if stop in part)


def test_chat_through_the_sdk_equals_hf_and_counts_usage(client, hf_backend):
    response = client.chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=6, temperature=0, tools=[], tool_choice="none", top_p=1
    )
    request = GenerationRequest(messages=tuple(Message(**m) for m in CHAT), max_tokens=6)
    expected = hf_backend.generate([request])[0]
    assert response.choices[0].message.content == expected.text
    assert response.choices[0].message.tool_calls is None
    prompt = hf_backend.prompt_text(request)
    assert response.usage.prompt_tokens == reference_tokens(hf_backend, prompt, hf_backend.add_bos)
    assert response.usage.completion_tokens == expected.tokens == 6


TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(
    ("fields", "param", "fragment"),
    [
        ({"tools": [TOOL]}, "tools", "does not support 'tools'"),
        ({"tool_choice": "auto"}, "tool_choice", "does not support 'tool_choice'"),
        ({"response_format": {"type": "json_object"}}, "response_format", "does not support 'response_format'"),
        ({"logit_bias": {"5": 10}}, "logit_bias", "does not support 'logit_bias'"),
        ({"top_p": 0.5}, "top_p", "leave it out or send 1 or 1.0"),
        ({"frequency_penalty": 0.5}, "frequency_penalty", "does not support 'frequency_penalty'"),
        ({"seed": 7, "temperature": 0.8}, "seed", "does not honour seed when sampling"),
        ({"n": 2}, "n", "one choice per prompt"),
        ({"extra_body": {"guided_json": {}}}, "guided_json", "does not support the field 'guided_json'"),
    ],
)
def test_chat_fields_that_would_change_the_answer_are_refused(client, fields, param, fragment):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=4, **fields)
    error = caught.value
    assert error.status_code == 400 and fragment in error.message
    assert error.body["param"] == param and error.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"suffix": "return x"}, "suffix"), ({"best_of": 3}, "best_of"), ({"extra_body": {"tools": [TOOL]}}, "tools")],
)
def test_completion_fields_that_would_change_the_answer_are_refused(client, fields, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="tiny", prompt="SELECT", max_tokens=4, **fields)
    assert caught.value.body["param"] == param


def test_version_endpoint_reports_lemur_eval(client):
    import importlib.metadata

    import httpx

    root = str(client.base_url).removesuffix("/").removesuffix("/v1")
    assert httpx.get(root + "/version").json() == {"version": importlib.metadata.version("lemur-eval")}
