"""The generic LLM agent (lemur.eval.agents.llm): prompt format, history window, action parsing."""

from __future__ import annotations

from lemur.eval.agents.llm import LLMAgent, PromptFormat
from lemur.eval.models.base import Generation, Message, ModelBackend


class Recorder(ModelBackend):
    """Answers 'ACT <n>' and keeps every chat it was sent."""

    name = "recorder"

    def __init__(self):
        self.chats = []

    @property
    def identity(self):
        return {}

    def generate(self, requests):
        self.chats += [r.messages for r in requests]
        return [Generation(f"thinking... ACT {len(self.chats)}") for _ in requests]


FORMAT = PromptFormat(
    system="sys", first_observation="Task: {observation}", observation="Obs: {observation}", action_pattern=r"ACT (\d+)"
)


def play(agent, observations):
    agent.reset(observations[0], {})
    return [agent.act(observation, {}) for observation in observations]


def test_full_history_and_action_pattern():
    backend = Recorder()
    actions = play(LLMAgent(backend, FORMAT), ["t", "o1", "o2"])
    assert actions == ["1", "2", "3"]
    assert backend.chats[2] == (
        Message("system", "sys"),
        Message("user", "Task: t"),
        Message("assistant", "thinking... ACT 1"),
        Message("user", "Obs: o1"),
        Message("assistant", "thinking... ACT 2"),
        Message("user", "Obs: o2"),
    )


def test_history_window_keeps_the_task_and_the_last_exchanges():
    backend = Recorder()
    play(LLMAgent(backend, FORMAT, history_window=1), ["t", "o1", "o2", "o3"])
    assert backend.chats[3] == (
        Message("system", "sys"),
        Message("user", "Task: t"),
        Message("assistant", "thinking... ACT 3"),
        Message("user", "Obs: o3"),
    )
    backend = Recorder()
    play(LLMAgent(backend, {"system": "", "stop": ["\n"]}, history_window=0), ["t", "o1", "o2"])
    assert backend.chats[2] == (Message("user", "t"), Message("user", "o2"))


def test_reset_starts_a_new_episode_and_unmatched_replies_pass_through():
    backend = Recorder()
    agent = LLMAgent(backend, PromptFormat(action_pattern=r"NOPE (\d+)"))
    play(agent, ["a", "b"])
    assert play(agent, ["c"]) == ["thinking... ACT 3"]
    assert backend.chats[-1][1:] == (Message("user", "c"),)
    assert agent.describe()["history_window"] is None
