"""The three InterCode benchmarks: prompts and parsers, and runs through the runner replaying GPT-4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.eval.agents.intercode import InterCodeAgent, parse_bash, parse_ctf, parse_sql, schema_message
from lemur.eval.models.base import Generation

HERE = Path(__file__).resolve().parent
LOGS = {
    "bash": "intercode/data/results/bash/gpt-4/ic_bash_multiturn_gpt-4_10_turns_fs_{}.json",
    "sql": "intercode/data/results/sql/gpt-4/ic_sql_multiturn_gpt-4_10_turns.json",
    "ctf": "intercode/data/results/ctf/ic_ctf_multiturn_gpt-4_10_turns.json",
}


def test_parsers_follow_intercode():
    assert parse_bash('Sure:\n```bash\nfind /testbed  -name "*.TXT"\n| wc -l\n```') == (
        'find /testbed -name "*.txt" | wc -l',
        True,
    )
    assert parse_bash("command: ls -la") == (" ls -la", True)
    assert parse_bash("ls") == ("ls", True)
    assert parse_sql("```sql\nSELECT name FROM singer; DROP TABLE x\n```") == ("SELECT name FROM singer", True)
    assert parse_sql("```sql\nUPDATE t SET a = 1\n```")[1] is False
    assert parse_sql("I think SELECT count(*) FROM t; is right") == ("SELECT count(*) FROM t", True)
    assert parse_ctf("Action: cat flag\nObservation: x") == ("cat flag", True)
    assert parse_ctf("Let me look around.")[1] is False


class Scripted:
    """A backend answering from a list, recording the chats it saw."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.seen = []

    def generate(self, requests):
        self.seen.append(requests[0].messages)
        return [Generation(self.replies.pop(0))]


def test_sql_agent_schema_reward_window_and_retry():
    backend = Scripted(["```sql\nSHOW TABLES\n```", "no code here", "```sql\nSELECT 1\n```", "```sql\nSELECT 2\n```"])
    agent = InterCodeAgent(backend, "sql", dialogue_limit=3)
    tables = {"singer": ["Singer_ID", "Name"]}
    agent.reset("How many singers are there?", {"db_tables": tables})
    assert agent.act("How many singers are there?", {"db_tables": tables}) == "SHOW TABLES"
    system, question = backend.seen[0]
    assert system.role == "system" and schema_message(tables) in system.content and "singer" in system.content
    assert question.content == 'Query: "How many singers are there?".'
    assert agent.act("[('singer',)]", {"reward": 0.0}) == "-- no SQL code in the reply"
    assert "Output: [('singer',)]\nReward: 0.0" in backend.seen[1][-1].content
    agent.act("None", {"reward": 0.0})
    assert backend.seen[2][-1].content.startswith("No SQL code was found")
    agent.act("[(1,)]", {"reward": 0.25})
    kept = backend.seen[3]
    assert len(kept) == 2 + 3 and kept[0].role == "system" and kept[1].content.startswith("Query:")
    assert "Reward: 0.25" in kept[-1].content


def test_ctf_agent_messages():
    backend = Scripted(["Action: ls", "Action: submit picoCTF{x}"])
    agent = InterCodeAgent(backend, "ctf", dialogue_limit=7)
    agent.reset("Find the flag.", {})
    assert agent.act("Find the flag.", {}) == "ls"
    assert backend.seen[0][1].content == "Task: Find the flag."
    assert agent.act("", {}) == "submit picoCTF{x}"
    assert backend.seen[1][-1].content == "No output"


@pytest.fixture
def gpt4_runner(plugin_manager, monkeypatch, tmp_path, shared_data):
    """Run an InterCode benchmark through the runner with the GPT-4 log model."""
    import lemur.envs.plugin
    import lemur.eval.plugin

    monkeypatch.setenv("LEMUR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(HERE))
    import _intercode_log_model

    for module, name in [(lemur.envs.plugin, "lemur_envs"), (lemur.eval.plugin, "lemur_eval")]:
        plugin_manager.register_plugin(module, name)
    plugin_manager.register_plugin(_intercode_log_model, "gpt4-log")

    def run_benchmark(name, language, logs, limit, options):
        from lemur.eval.config import RunConfig
        from lemur.eval.runner import run

        paths = ",".join(str(shared_data / log) for log in logs)
        config = RunConfig(
            model=f"gpt4-log:{language}:{paths}",
            benchmarks=(name,),
            out=tmp_path / f"run-{name}",
            limit=limit,
            data_dir=shared_data,
            benchmark_options={name: options},
            use_cache=False,
            progress=False,
            workers=1,
        )
        entry = run(config)["benchmarks"][name]
        results = [json.loads(line) for line in (tmp_path / f"run-{name}" / name / "results.jsonl").open()]
        return entry, {r["id"]: r["success_turn"] for r in results}

    return run_benchmark


def _logged(shared_data, log, ids):
    episodes = json.loads((shared_data / log).read_text())
    out = {}
    for episode in episodes.values():
        key = str(episode["task_id"])
        if key in ids:
            rewards = episode["turn_history"]["rewards"]
            out[key] = rewards.index(1.0) + 1 if 1.0 in rewards else None
    return out


def test_intercode_sql_replaying_gpt4_gives_the_logged_successes(gpt4_runner, shared_data):
    pytest.importorskip("scipy", reason="InterCode-SQL's reward needs scipy")
    entry, turns = gpt4_runner("intercode-sql", "sql", [LOGS["sql"]], 40, {})
    logged = _logged(shared_data, LOGS["sql"], set(turns))
    print(f"intercode-sql on SQLite, first 40 tasks: success {entry['scores']['success_rate']:.3f}")
    # The same actions stepped straight into the environment give the same turns: only task 9
    # differs from the log, because GPT-4's solving query uses MySQL's TIMESTAMPDIFF, which SQLite lacks.
    differing = {key for key in turns if turns[key] != logged[key]}
    assert differing == {"9"}, {key: (turns[key], logged[key]) for key in differing}
    assert sum(t is not None for t in turns.values()) == sum(t is not None for t in logged.values()) - 1
    assert entry["n"] == 40 and len(entry["success_by_turn"]) == 10


@pytest.mark.slow
def test_intercode_bash_replaying_gpt4_gives_the_logged_successes(gpt4_runner, shared_data, local_sandbox):
    entry, turns = gpt4_runner("intercode-bash", "bash", [LOGS["bash"].format(4)], 6, {"file_systems": [4]})
    episodes = json.loads((shared_data / LOGS["bash"].format(4)).read_text())
    logged = {}
    for episode in episodes.values():
        rewards = episode["turn_history"]["rewards"]
        if f"fs4-{episode['task_id']}" in turns:
            logged[f"fs4-{episode['task_id']}"] = rewards.index(1.0) + 1 if 1.0 in rewards else None
    differing = {key: (turns[key], logged[key]) for key in turns if turns[key] != logged[key]}
    print(
        f"intercode-bash fs 4: success {entry['scores']['success_rate']:.3f}, logged "
        f"{sum(v is not None for v in logged.values()) / len(logged):.3f}; differing {differing}"
    )
    # Of the first 6 tasks, the environment's own replay (lemur-envs' test_bash.py) differs from
    # the log on these: 1 uses dig (no DNS in the sandbox), 2 and 4 print the host name and
    # environment variables (one sandbox here, two containers with different names in InterCode).
    assert set(differing) <= {"fs4-1", "fs4-2", "fs4-4"}, differing
    assert entry["n"] == 6 and set(logged) == set(turns)


def test_intercode_ctf_replaying_gpt4_gives_the_logged_successes(gpt4_runner, shared_data, local_sandbox):
    with pytest.warns(UserWarning, match="21 of 100 tasks need the internet"):
        entry, turns = gpt4_runner("intercode-ctf", "ctf", [LOGS["ctf"]], 25, {})
    logged = _logged(shared_data, LOGS["ctf"], set(turns))
    assert set(logged) <= set(turns)
    differing = {key: (turns[key], logged[key]) for key in logged if turns[key] != logged[key]}
    print(
        f"intercode-ctf, first 25 offline tasks: success {entry['scores']['success_rate']:.3f}; differing {differing}"
    )
    assert not differing
