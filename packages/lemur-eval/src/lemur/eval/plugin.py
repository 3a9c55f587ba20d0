"""lemur-eval's plugin: the ``lemur eval`` commands (backends and benchmarks arrive with their issues)."""

from __future__ import annotations

import click

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec
from lemur.eval.reports.command import report_command
from lemur.eval.run_command import run_command


@click.group("eval")
def eval_group() -> None:
    """Evaluate models on text, code and agent benchmarks."""


@eval_group.command("benchmarks")
def list_benchmarks() -> None:
    """List the registered benchmarks with their category, metric and version."""
    from lemur.core.components import Kind
    from lemur.core.plugins import components

    registry = components(Kind.BENCHMARK)
    if not len(registry):
        click.echo("no benchmarks registered")
    rows = []
    for provided in registry:
        spec = provided.spec.load().spec
        setting = ", ".join(f"{k}={v}" for k, v in spec.setting.items())
        rows.append((spec.name, spec.category, spec.metric, f"v{spec.version}", setting))
    widths = [max(len(row[column]) for row in rows) for column in range(4)] if rows else []
    for row in rows:
        click.echo(" ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)) + " " + row[4])


eval_group.add_command(report_command)
eval_group.add_command(run_command)


@hookimpl
def lemur_cli_commands(cli: click.Group) -> None:
    from lemur.eval.serve import serve_command

    cli.add_command(eval_group)
    cli.add_command(serve_command)


@hookimpl
def lemur_model_backends() -> list[ComponentSpec]:
    return [
        ComponentSpec("replay", "lemur.eval.models.replay:ReplayBackend", "answers from recorded generations (JSONL)"),
        ComponentSpec(
            "openai",
            "lemur.eval.models.openai:OpenAIBackend",
            "any OpenAI-compatible server (vLLM, TGI, llama.cpp, OpenAI, lemur serve)",
            extra="lemur-eval[openai]",
        ),
        ComponentSpec(
            "hf",
            "lemur.eval.models.hf:HFBackend",
            "a local Transformers causal LM (batched, chat templates incl. chatml)",
            extra="lemur-eval[hf]",
        ),
    ]


@hookimpl
def lemur_agents() -> list[ComponentSpec]:
    return [
        ComponentSpec("llm", "lemur.eval.agents.llm:LLMAgent", "a model with a prompt format and history window"),
        ComponentSpec("intercode", "lemur.eval.agents.intercode:InterCodeAgent", "InterCode's chat protocol"),
    ]


@hookimpl
def lemur_benchmarks() -> list[ComponentSpec]:
    return [
        ComponentSpec("gsm8k", "lemur.eval.benchmarks.gsm8k:GSM8K", "grade-school math, 8-shot chain of thought"),
        ComponentSpec("bbh", "lemur.eval.benchmarks.bbh:BBH", "BIG-Bench Hard, 27 tasks, 3-shot answer only"),
        ComponentSpec("mmlu", "lemur.eval.benchmarks.mmlu:MMLU", "57-subject multiple choice, 5-shot"),
        ComponentSpec("spider", "lemur.eval.benchmarks.spider:Spider", "text-to-SQL, execution accuracy on SQLite"),
        ComponentSpec("humaneval", "lemur.eval.benchmarks.humaneval:HumanEval", "Python completion, sandboxed pass@1"),
        ComponentSpec("mbpp", "lemur.eval.benchmarks.mbpp:MBPP", "basic Python problems, 3-shot, sandboxed pass@1"),
        ComponentSpec("multipl-e", "lemur.eval.benchmarks.multipl_e:MultiPLE", "HumanEval in 8 languages, pass@1"),
        ComponentSpec("ds-1000", "lemur.eval.benchmarks.ds1000:DS1000", "data-science code, 7 libraries (mirror only)"),
        ComponentSpec("intercode-bash", "lemur.eval.benchmarks.intercode_bash:InterCodeBash", "NL2Bash, 10 turns"),
        ComponentSpec("intercode-sql", "lemur.eval.benchmarks.intercode_sql:InterCodeSQL", "Spider, 10 turns"),
        ComponentSpec("intercode-ctf", "lemur.eval.benchmarks.intercode_ctf:InterCodeCTF", "picoCTF, 10 turns"),
    ]
