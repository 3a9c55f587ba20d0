"""The hooks a Lemur plugin may implement.

A plugin is an ordinary module (by convention ``<package>/plugin.py``) named by an entry point
of group ``lemur`` and implementing some of these hooks with ``@lemur.core.hookimpl``. Built-in
components arrive the same way as third-party ones. Each collection hook returns a list of
:class:`~lemur.core.components.ComponentSpec`; an empty list (or ``None``) means the plugin
provides nothing of that kind. Specs name their implementation as ``"module:attr"`` strings,
so calling a collection hook imports nothing heavy.

All collection hooks are called by :func:`lemur.core.plugins.components` the first time a
registry is needed (``lemur plugins``, a name lookup, ``import lemur.envs``), once per plugin
manager. They are never ``firstresult``: every plugin's list is kept, and a name provided by
two plugins of the same kind is an error naming both distributions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from lemur.core.components import ComponentSpec

hookspec = pluggy.HookspecMarker("lemur")


# -------------------------------------------------------------------------------------------
# Data (lemur-data)
# -------------------------------------------------------------------------------------------


@hookspec
def lemur_data_sources() -> list[ComponentSpec]:
    """Return the data sources (readers) this plugin provides.

    A source's target is a class or factory that builds a reader from keyword options and
    yields records (JSONL, Parquet, Hugging Face datasets, code trees, named corpora such as
    ``the-stack`` or ``oasst1``).

    Called once per plugin manager, when the ``data-source`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


@hookspec
def lemur_data_steps() -> list[ComponentSpec]:
    """Return the pipeline steps this plugin provides.

    A step maps an iterator of records to an iterator of records (filters, dedupers,
    tokenizers, packers) and is deterministic given a seed.

    Called once per plugin manager, when the ``data-step`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


# -------------------------------------------------------------------------------------------
# Training (lemur-train)
# -------------------------------------------------------------------------------------------


@hookspec
def lemur_train_backends() -> list[ComponentSpec]:
    """Return the training backends this plugin provides.

    A backend's target exposes ``fit(config) -> RunResult``, reads packed shards or SFT
    records and writes checkpoints that the matching model backend can load (``jax`` for
    pre-training, ``torch`` for instruction fine-tuning).

    Called once per plugin manager, when the ``train-backend`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


# -------------------------------------------------------------------------------------------
# Evaluation (lemur-eval)
# -------------------------------------------------------------------------------------------


@hookspec
def lemur_model_backends() -> list[ComponentSpec]:
    """Return the model backends this plugin provides for evaluation.

    A model backend generates text for a list of requests and scores log-likelihoods
    (``openai`` for any OpenAI-compatible server, ``hf``, ``jax``, ``replay``).

    Called once per plugin manager, when the ``model-backend`` registry is first built.

    Use in plugins: any plugin may implement it; ``lemur-train`` contributes ``jax`` here so
    that ``lemur-eval`` never imports ``lemur-train``.
    """


@hookspec
def lemur_benchmarks() -> list[ComponentSpec]:
    """Return the benchmarks this plugin provides.

    A benchmark's target is a :class:`lemur.eval.benchmark.Benchmark` subclass (single-turn:
    ``request`` + ``score``; multi-turn: an environment and an agent protocol). Names are
    lowercase with hyphens (``gsm8k``, ``intercode-bash``).

    Called once per plugin manager, when the ``benchmark`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


@hookspec
def lemur_agents() -> list[ComponentSpec]:
    """Return the agent policies this plugin provides.

    An agent's target is a :class:`lemur.eval.agents.Agent` subclass: it turns observations
    into actions, usually by prompting a model backend with a per-environment format.

    Called once per plugin manager, when the ``agent`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


# -------------------------------------------------------------------------------------------
# Environments and sandboxes (lemur-envs)
# -------------------------------------------------------------------------------------------


@hookspec
def lemur_envs() -> list[ComponentSpec]:
    """Return the environments this plugin provides.

    The spec's ``name`` is the gymnasium id (``lemur/InterCode-Bash-v0``), its ``target`` the
    entry point (``"module:EnvClass"``); ``options`` may hold ``max_episode_steps`` and
    ``kwargs``. ``import lemur.envs`` registers every spec into gymnasium's registry.

    Called once per plugin manager, when the ``env`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


@hookspec
def lemur_sandboxes() -> list[ComponentSpec]:
    """Return the sandbox backends this plugin provides.

    A backend's target is a :class:`lemur.envs.sandbox.SandboxBackend` subclass; everything
    that runs model-written code goes through one (``local`` on bubblewrap, ``docker``).

    Called once per plugin manager, when the ``sandbox`` registry is first built.

    Use in plugins: any plugin may implement it.
    """


# -------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------


@hookspec
def lemur_cli_commands(cli: click.Group) -> None:
    """Add sub-commands or command groups to the ``lemur`` command.

    Called once by :func:`lemur.core.cli.main` after the plugins are loaded and before the
    command line is parsed, so it runs for every invocation, ``lemur --help`` included: keep
    the implementation cheap and import heavy packages inside the command functions.

    Args:
        cli: The root ``lemur`` click group; call ``cli.add_command(group)``.

    Use in plugins: any plugin may implement it; a command name already taken is an error.
    """
