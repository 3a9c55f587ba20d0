"""The agent loop (lemur.eval.agent_loop) on a real gymnasium environment."""

from __future__ import annotations

import pytest

from lemur.eval.agent_loop import Episode, run_episode, success_by_turn
from lemur.eval.agents.base import Agent


class BisectAgent(Agent):
    """Bisects 1..64 from the 'higher'/'lower' answers."""

    def reset(self, observation, info):
        self.low, self.high, self.last = 1, 64, None
        self.first = observation

    def act(self, observation, info):
        if observation == "higher":
            self.low = self.last + 1
        elif observation == "lower":
            self.high = self.last - 1
        self.last = (self.low + self.high) // 2
        return str(self.last)


@pytest.fixture
def env(eval_test_plugin):
    import gymnasium

    from lemur.core.plugins import get_plugin_manager
    from lemur.envs.registration import register_envs

    register_envs(get_plugin_manager())
    environment = gymnasium.make("lemur-test/HiddenNumber-v0")
    yield environment
    environment.close()


@pytest.mark.parametrize("target", [1, 20, 32, 45, 64])
def test_episode_records_every_turn_until_success(env, eval_test_plugin, target):
    needed = eval_test_plugin.bisect_turns(target)
    episode = run_episode(env, BisectAgent(), max_turns=10, options={"task_id": target})
    assert episode.success and episode.success_turn == needed and len(episode.turns) == needed
    assert [turn.turn for turn in episode.turns] == list(range(1, needed + 1))
    assert episode.turns[-1].observation == "correct" and episode.turns[-1].reward == 1.0
    assert all(turn.observation in ("higher", "lower") and turn.reward == 0.0 for turn in episode.turns[:-1])
    assert episode.reward == 1.0 and episode.info["task_id"] == str(target)


def test_episode_stops_at_max_turns_unsolved(env):
    episode = run_episode(env, BisectAgent(), max_turns=3, options={"task_id": 1})
    assert not episode.success and episode.success_turn is None
    assert [turn.action for turn in episode.turns] == ["32", "16", "8"]
    assert Episode.from_record(episode.to_record("1")) == Episode(episode.turns, False, 0.0, None)


def test_environment_truncation_ends_the_episode(eval_test_plugin):
    import gymnasium

    from lemur.core.plugins import get_plugin_manager
    from lemur.envs.registration import register_envs

    register_envs(get_plugin_manager())
    env = gymnasium.make("lemur-test/HiddenNumber-v0", max_episode_steps=2)
    episode = run_episode(env, BisectAgent(), max_turns=10, options={"task_id": 1})
    assert len(episode.turns) == 2 and not episode.success


def test_max_turns_below_one_is_rejected(env):
    with pytest.raises(ValueError, match="max_turns must be at least 1"):
        run_episode(env, BisectAgent(), max_turns=0)


def test_success_by_turn_is_cumulative():
    assert success_by_turn([1, None, 3, 2, 3], 4) == [0.2, 0.4, 0.8, 0.8]
    assert success_by_turn([], 2) == [0.0, 0.0]
