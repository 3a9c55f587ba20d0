"""The sharded train state and the jitted train step (gradient accumulation inside the step).

The state is ``{"step", "params", "opt_state"}`` with float32 params and Adam moments; the
forward and backward passes run in the model's compute dtype (bf16 for training). One call of
the step consumes a whole optimizer batch: rows ``m * A + a`` form micro-batch ``a`` of ``A``
(so every host's rows feed every micro-batch), micro-batches run in a ``lax.scan`` and their
gradients are summed, and the loss is normalised per token over the whole accumulated batch:
``sum(token losses * weights) / sum(weights)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from lemur.train.jax.configs import LlamaConfig
from lemur.train.jax.model import LlamaForCausalLM
from lemur.train.jax.optimizer import OptimizerConfig, build_optimizer, learning_rate_schedule
from lemur.train.jax.sharding import LOGICAL_AXIS_RULES, batch_sharding, logical_shardings

State = dict[str, Any]


@dataclasses.dataclass
class Trainer:
    """Everything compiled for one (model, optimizer, mesh): state layout, init and the step.

    Args:
        config: The model.
        optimizer: The optimizer settings.
        mesh: The device mesh.
        seq_len: Row length in tokens.
        grad_accum_steps: Micro-batches per optimizer step.
    """

    config: LlamaConfig
    optimizer: OptimizerConfig
    mesh: Any
    seq_len: int
    grad_accum_steps: int = 1

    def __post_init__(self) -> None:
        self.model = LlamaForCausalLM(self.config)
        self.tx = build_optimizer(self.optimizer)
        self.schedule = learning_rate_schedule(self.optimizer)
        with self.context():
            boxed = jax.eval_shape(self._init_boxed, jax.random.key(0))
        self.state_shardings = logical_shardings(boxed, self.mesh)
        self.abstract_state = jax.tree.map(
            lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
            nn.unbox(boxed),
            self.state_shardings,
        )
        self.param_shardings = self.state_shardings["params"]
        self._step = jax.jit(
            self._train_step,
            in_shardings=(self.state_shardings, batch_sharding(self.mesh)),
            out_shardings=(self.state_shardings, None),
            donate_argnums=(0,),
        )

    def context(self):
        """The mesh and logical-axis rules that tracing and running the model need."""
        import contextlib

        stack = contextlib.ExitStack()
        stack.enter_context(jax.set_mesh(self.mesh))
        stack.enter_context(nn.logical_axis_rules(LOGICAL_AXIS_RULES))
        return stack

    def _dummy(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        ones = jnp.ones((1, self.seq_len), jnp.int32)
        return ones, ones, ones

    def _init_boxed(self, rng: jax.Array) -> State:
        params = self.model.init(rng, *self._dummy())["params"]
        return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": self.tx.init(params)}

    def init_state(self, seed: int) -> State:
        """A freshly initialised state (normal(0, initializer_range) weights), laid out on the mesh."""
        with self.context():
            return jax.jit(lambda rng: nn.unbox(self._init_boxed(rng)), out_shardings=self.state_shardings)(
                jax.random.key(seed)
            )

    def state_from_params(self, params: Any) -> State:
        """A state starting from existing ``params`` (e.g. a converted Llama-2 checkpoint), optimizer fresh."""
        params = jax.device_put(jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params), self.param_shardings)
        with self.context():
            opt_state = jax.jit(self.tx.init, out_shardings=self.state_shardings["opt_state"])(params)
        return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": opt_state}

    def loss_sum(self, params: Any, batch: dict[str, jax.Array]) -> jax.Array:
        """Sum over tokens of ``cross_entropy * weight`` (float32) for one micro-batch."""
        logits = self.model.apply({"params": params}, batch["tokens"], batch["positions"], batch["segment_ids"])
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        return jnp.sum(losses * batch["weights"])

    def _train_step(self, state: State, batch: dict[str, jax.Array]) -> tuple[State, dict[str, jax.Array]]:
        accum = self.grad_accum_steps
        params = state["params"]
        tokens = jnp.sum(batch["weights"])
        denominator = jnp.maximum(tokens, 1.0)

        def split(x: jax.Array) -> jax.Array:
            return x.reshape(x.shape[0] // accum, accum, *x.shape[1:]).swapaxes(0, 1)

        def micro_step(carry, micro):
            grads, loss = carry
            micro_loss, micro_grads = jax.value_and_grad(lambda p: self.loss_sum(p, micro) / denominator)(params)
            return (jax.tree.map(jnp.add, grads, micro_grads), loss + micro_loss), None

        zeros = jax.tree.map(jnp.zeros_like, params)
        (grads, loss), _ = jax.lax.scan(micro_step, (zeros, jnp.zeros((), jnp.float32)), jax.tree.map(split, batch))
        updates, opt_state = self.tx.update(grads, state["opt_state"], params)
        new_state = {"step": state["step"] + 1, "params": optax.apply_updates(params, updates), "opt_state": opt_state}
        metrics = {
            "loss": loss,
            "lr": self.schedule(state["step"]),
            "grad_norm": optax.tree.norm(grads),
            "tokens": tokens,
        }
        return new_state, metrics

    def step(self, state: State, batch: dict[str, jax.Array]) -> tuple[State, dict[str, jax.Array]]:
        """Run one optimizer step on a global batch (arrays sharded by ``batch_sharding``); ``state`` is donated.

        Returns:
            The new state and device scalars ``loss`` (per-token mean), ``lr`` (the LR this update
            used), ``grad_norm`` (before clipping) and ``tokens`` (tokens with a loss).
        """
        with self.context():
            return self._step(state, batch)
