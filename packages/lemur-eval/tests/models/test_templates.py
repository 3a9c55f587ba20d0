"""Chat templates render messages exactly as the models were trained to read them."""

from __future__ import annotations

import pytest

from lemur.eval.models.base import Message
from lemur.eval.models.templates import TemplateError, UnknownTemplateError, get_template, render_chatml

CONVERSATION = (
    Message("system", "You are Lemur."),
    Message("user", "Write a function.\nIn Python."),
    Message("assistant", "def f():\n    pass"),
    Message("user", "Thanks"),
)


def test_chatml_renders_lemur_chat_format_exactly() -> None:
    expected = (
        "<|im_start|>system\nYou are Lemur.<|im_end|>\n"
        "<|im_start|>user\nWrite a function.\nIn Python.<|im_end|>\n"
        "<|im_start|>assistant\ndef f():\n    pass<|im_end|>\n"
        "<|im_start|>user\nThanks<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render_chatml(CONVERSATION) == expected
    assert get_template("chatml") is render_chatml


def test_chatml_with_no_messages_only_opens_the_assistant_turn() -> None:
    assert render_chatml(()) == "<|im_start|>assistant\n"


def test_model_template_uses_the_tokenizers_own_template(tiny_model) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rendered = get_template("model")(CONVERSATION[:2], tokenizer)
    assert rendered == "[system]: You are Lemur.\n[user]: Write a function.\nIn Python.\n[assistant]: "


def test_model_template_without_a_tokenizer_template_says_to_choose_one() -> None:
    class Bare:
        chat_template = None
        name_or_path = "/models/base"

    with pytest.raises(TemplateError, match="/models/base has no chat template of its own; choose template=chatml"):
        get_template("model")(CONVERSATION, Bare())


def test_unknown_template_suggests_the_close_name() -> None:
    with pytest.raises(UnknownTemplateError) as caught:
        get_template("chatm")
    assert str(caught.value) == "unknown chat template 'chatm': did you mean 'chatml'? available: chatml, model"
    assert caught.value.exit_code == 2


def test_a_final_assistant_message_is_continued_not_closed():
    from lemur.eval.models.base import Message
    from lemur.eval.models.templates import render_chatml

    prompt = render_chatml([Message("user", "Question: 2+2?"), Message("assistant", "Answer:")])
    # Lemur's GSM8K script in ChatML: the assistant turn is opened with "Answer:" and left open
    assert prompt == "<|im_start|>user\nQuestion: 2+2?<|im_end|>\n<|im_start|>assistant\nAnswer:"
