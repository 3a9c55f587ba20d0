"""The example plugin's components, imported only when one is used."""

from __future__ import annotations

import re
import string

import gymnasium
from gymnasium import spaces

from lemur.data.records import Document
from lemur.data.sources import DataSource
from lemur.eval.agents import Agent
from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.models import GenerationRequest


class NumbersSource(DataSource):
    """Documents ``number 0`` ... ``number count-1``."""

    name = "example-numbers"

    def __init__(self, count: int | str = 3):
        self.count = int(count)

    def __iter__(self):
        for index in range(self.count):
            yield Document(f"n{index}", f"number {index}", {"source": self.name})


class AdditionBenchmark(Benchmark):
    """Five sums; the last integer in the answer must equal the sum."""

    spec = BenchmarkSpec(name="example-addition", version="1", category="text", setting={"shots": 0})

    def samples(self):
        for a, b in [(1, 2), (3, 4), (10, 20), (7, 8), (100, 1)]:
            yield Sample(id=f"{a}+{b}", inputs={"a": a, "b": b}, target=a + b)

    def request(self, sample):
        return GenerationRequest(prompt=f"What is {sample.inputs['a']} + {sample.inputs['b']}? Answer:", stop=("\n",))

    def score(self, sample, output):
        numbers = re.findall(r"-?\d+", output)
        predicted = int(numbers[-1]) if numbers else None
        return Score(float(predicted == sample.target), {"predicted": predicted})


class GuessNumberEnv(gymnasium.Env):
    """Guess a hidden integer in 1..100; each wrong guess is answered 'higher' or 'lower'.

    Reward 1.0 and termination on the right guess, else 0.0. ``options={"task_id": n}`` fixes
    the hidden number; otherwise it is drawn from ``self.np_random``.
    """

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = spaces.Text(max_length=200, charset=string.printable)
        self.action_space = spaces.Text(max_length=20, charset="0123456789")
        self._target = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        task = (options or {}).get("task_id")
        self._target = int(task) if task is not None else int(self.np_random.integers(1, 101))
        return "Guess a number between 1 and 100.", {"task_id": str(self._target)}

    def step(self, action):
        assert self.action_space.contains(action), f"action {action!r} is not a number"
        guess = int(action) if action else -1
        success = guess == self._target
        observation = "correct" if success else ("higher" if guess < self._target else "lower")
        info = {"task_id": str(self._target), "success": success}
        return observation, float(success), success, False, info


class BisectAgent(Agent):
    """Bisects the interval 1..100 using the environment's higher/lower answers."""

    def reset(self, observation, info):
        self.low, self.high, self.last = 1, 100, None

    def act(self, observation, info):
        if observation == "higher":
            self.low = self.last + 1
        elif observation == "lower":
            self.high = self.last - 1
        self.last = (self.low + self.high) // 2
        return str(self.last)
