"""The Flax Llama against transformers' LlamaForCausalLM, and exact HF <-> Flax checkpoint round trips."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the reference model needs torch")
transformers = pytest.importorskip("transformers", reason="the reference model needs transformers")

from lemur.train.jax import convert  # noqa: E402
from lemur.train.jax.configs import get_preset  # noqa: E402
from lemur.train.jax.model import LlamaForCausalLM  # noqa: E402

CONFIG = get_preset("debug", dtype="float32")  # GQA: 4 query heads over 2 kv heads


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    hf_config = transformers.LlamaConfig(**convert.config_to_hf(CONFIG, "float32"))
    model = transformers.LlamaForCausalLM(hf_config).eval()
    # Random norms too, so a swapped or untransposed norm weight cannot hide.
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.endswith("norm.weight"):
                weight.uniform_(0.5, 1.5)
    state = {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}
    return model, state


def hf_logits(model, tokens: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor(tokens, dtype=torch.long)).logits.numpy()


def flax_logits(params, tokens, positions, segment_ids) -> np.ndarray:
    return np.asarray(LlamaForCausalLM(CONFIG).apply({"params": params}, tokens, positions, segment_ids))


def test_logits_match_transformers(reference) -> None:
    model, state = reference
    tokens = np.random.default_rng(1).integers(0, CONFIG.vocab_size, size=(2, 48))
    positions = np.tile(np.arange(48), (2, 1))
    ours = flax_logits(convert.hf_to_params(state, CONFIG), tokens, positions, np.ones_like(tokens))
    expected = hf_logits(model, tokens)
    assert ours.shape == expected.shape == (2, 48, CONFIG.vocab_size)
    np.testing.assert_allclose(ours, expected, atol=2e-5, rtol=1e-4)


def test_packed_documents_do_not_attend_to_each_other(reference) -> None:
    """A row packing two documents gives each document the logits transformers gives it alone."""
    model, state = reference
    rng = np.random.default_rng(2)
    first, second = rng.integers(0, CONFIG.vocab_size, size=20), rng.integers(0, CONFIG.vocab_size, size=12)
    tokens = np.concatenate([first, second])[None]
    positions = np.concatenate([np.arange(20), np.arange(12)])[None]
    segments = np.concatenate([np.full(20, 1), np.full(12, 2)])[None]
    ours = flax_logits(convert.hf_to_params(state, CONFIG), tokens, positions, segments)[0]
    np.testing.assert_allclose(ours[:20], hf_logits(model, first[None])[0], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(ours[20:], hf_logits(model, second[None])[0], atol=2e-5, rtol=1e-4)


def test_round_trip_hf_flax_hf_is_exact(reference) -> None:
    _, state = reference
    back = convert.params_to_hf(convert.hf_to_params(state, CONFIG), CONFIG)
    assert set(back) == set(state)
    for name, tensor in state.items():
        assert np.array_equal(back[name], tensor), name


def test_round_trip_through_safetensors_and_transformers(reference, tmp_path) -> None:
    """Flax params written as an HF dir load in transformers with identical weights and logits."""
    model, state = reference
    params = convert.hf_to_params(state, CONFIG)
    convert.save_hf_checkpoint(tmp_path / "hf", CONFIG, params, dtype="float32")
    loaded = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf", torch_dtype=torch.float32).eval()
    for name, tensor in loaded.state_dict().items():
        assert np.array_equal(tensor.numpy(), state[name]), name
    config, reread = convert.load_hf_checkpoint(tmp_path / "hf", dtype="float32")
    assert config == CONFIG
    tokens = np.arange(30)[None] % CONFIG.vocab_size
    np.testing.assert_array_equal(
        flax_logits(reread, tokens, np.arange(30)[None], np.ones_like(tokens)),
        flax_logits(params, tokens, np.arange(30)[None], np.ones_like(tokens)),
    )


def test_rotary_permutation_is_the_published_one() -> None:
    """Rotate-half row p*hd/2 + i is interleaved row 2i + p (the permutation in HF's Llama converter)."""
    hd = 8
    rows = np.arange(hd)[:, None]
    interleaved = convert._rotate_half_to_interleaved(rows.T).T[:, 0]
    assert interleaved.tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert np.array_equal(convert._interleaved_to_rotate_half(interleaved[None])[0], np.arange(hd))


def test_remat_policies_and_bf16_keep_the_maths(reference) -> None:
    """Every remat policy gives the same loss and gradients; bf16 compute stays close to float32."""
    import jax
    import jax.numpy as jnp

    from lemur.train.jax.configs import REMAT_POLICIES

    _, state = reference
    params = jax.tree.map(jnp.asarray, convert.hf_to_params(state, CONFIG))
    tokens = np.random.default_rng(3).integers(0, CONFIG.vocab_size, size=(2, 32))
    positions, segments = np.tile(np.arange(32), (2, 1)), np.ones_like(tokens)

    def loss(config, p):
        logits = LlamaForCausalLM(config).apply({"params": p}, tokens, positions, segments)
        return -jnp.mean(jax.nn.log_softmax(logits)[:, :-1].reshape(-1, CONFIG.vocab_size)[
            jnp.arange(62), tokens[:, 1:].reshape(-1)])  # fmt: skip

    results = {name: jax.value_and_grad(loss, argnums=1)(CONFIG.replace(remat_policy=name), params)
               for name in REMAT_POLICIES}  # fmt: skip
    base_loss, base_grads = results["none"]
    for name, (value, grads) in results.items():
        assert float(value) == pytest.approx(float(base_loss), rel=1e-6), name
        for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(base_grads), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    bf16 = loss(CONFIG.replace(dtype="bfloat16"), params)
    assert float(bf16) == pytest.approx(float(base_loss), rel=2e-2)
