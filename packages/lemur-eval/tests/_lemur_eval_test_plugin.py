"""A plugin for the runner tests: small real benchmarks, a text environment, and two test backends.

Imported by name (the tests put this folder on ``sys.path`` / ``PYTHONPATH``), so subprocesses
and Ray workers can import it too.
"""

from __future__ import annotations

import re
import string
import time

import gymnasium
from gymnasium import spaces

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec
from lemur.eval.agents.llm import PromptFormat
from lemur.eval.benchmark import AgentBenchmark, Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend
from lemur.eval.models.replay import ReplayBackend

NAME = "_lemur_eval_test_plugin"


def sum_operands(index: int) -> tuple[int, int]:
    """The operands of toy-sum's sample ``index``."""
    return (index * 37) % 101, (index * 53) % 89


class ToySum(Benchmark):
    """``size`` sums; the last integer in the output must equal the sum."""

    spec = BenchmarkSpec(name="toy-sum", version="1", category="text", metric="accuracy", setting={"shots": 0})

    def __init__(self, data_dir=None, size: int = 200, score_delay: float = 0.0):
        super().__init__(data_dir)
        self.size = int(size)
        self.score_delay = float(score_delay)

    def samples(self):
        for index in range(self.size):
            a, b = sum_operands(index)
            yield Sample(id=f"sum-{index:05d}", inputs={"a": a, "b": b}, target=a + b)

    def request(self, sample):
        return GenerationRequest(prompt=f"{sample.inputs['a']} + {sample.inputs['b']} =", stop=("\n",), max_tokens=8)

    def score(self, sample, output):
        if self.score_delay:
            time.sleep(self.score_delay)
        numbers = re.findall(r"-?\d+", output)
        predicted = int(numbers[-1]) if numbers else None
        return Score(float(predicted == sample.target), {"predicted": predicted})


class ToyChoice(Benchmark):
    """Which of four numbers is the largest? Scored by the log-likelihood of each choice (argmax)."""

    spec = BenchmarkSpec(name="toy-choice", version="1", category="text", metric="accuracy", setting={"shots": 0})
    CHOICES = (" A", " B", " C", " D")

    def samples(self):
        for index in range(12):
            values = [(index * 13 + k * 7) % 10 for k in range(4)]
            yield Sample(id=f"choice-{index}", inputs={"values": values}, target=values.index(max(values)))

    def request(self, sample):
        context = f"{sample.id}: largest of {sample.inputs['values']}? Answer:"
        return [LoglikelihoodRequest(context, choice) for choice in self.CHOICES]

    def score(self, sample, output):
        predicted = max(range(len(output)), key=lambda i: output[i])
        return Score(float(predicted == sample.target), {"predicted": predicted})


class HiddenNumberEnv(gymnasium.Env):
    """Find a hidden integer in 1..64; a wrong guess is answered 'higher' or 'lower'.

    Reward 1.0 and termination on the right guess, else 0.0; ``options["task_id"]`` is the number.
    """

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = spaces.Text(max_length=200, charset=string.printable)
        self.action_space = spaces.Text(max_length=200, charset=string.printable)
        self._target = 1

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        task = (options or {}).get("task_id")
        self._target = int(task) if task is not None else int(self.np_random.integers(1, 65))
        return "Guess a number between 1 and 64.", {"task_id": str(self._target)}

    def step(self, action):
        digits = re.findall(r"\d+", action)
        guess = int(digits[-1]) if digits else -1
        success = guess == self._target
        observation = "correct" if success else ("higher" if guess < self._target else "lower")
        return observation, float(success), success, False, {"task_id": str(self._target), "success": success}


class ToyGuess(AgentBenchmark):
    """Find each hidden number in 1..64 within ``max_turns`` guesses (bisection needs up to 7)."""

    spec = BenchmarkSpec(name="toy-guess", version="1", category="agent", metric="success_rate", setting={"turns": 5})
    env_id = "lemur-test/HiddenNumber-v0"
    agent = "llm"
    agent_options = {
        "prompt_format": PromptFormat(system="Guess.", action_pattern=r"GUESS (\d+)"),
        "history_window": 10,
    }
    max_turns = 5

    def __init__(self, data_dir=None, targets=(1, 17, 32, 33, 50, 64)):
        super().__init__(data_dir)
        self.targets = tuple(targets)

    def make_env(self):
        # Ray workers build their plugin manager from entry points only, without this test plugin.
        if self.env_id not in gymnasium.registry:
            gymnasium.register(self.env_id, entry_point=f"{NAME}:HiddenNumberEnv", max_episode_steps=20)
        return gymnasium.make(self.env_id)

    def samples(self):
        for target in self.targets:
            yield Sample(id=str(target), inputs={}, target=target)


def bisect_turns(target: int, low: int = 1, high: int = 64) -> int:
    """How many guesses bisection (guess the floor midpoint) needs to find ``target``."""
    turns = 0
    while True:
        turns += 1
        guess = (low + high) // 2
        if guess == target:
            return turns
        low, high = (guess + 1, high) if guess < target else (low, guess - 1)


class BisectModel(ModelBackend):
    """A 'model' that reads the chat and answers ``GUESS n`` by bisection over 1..64."""

    name = "test-bisect"

    def __init__(self, tag: str = "v1"):
        self.tag = tag
        self.calls = 0

    @property
    def identity(self):
        return {"backend": self.name, "tag": self.tag}

    def generate(self, requests):
        results = []
        for request in requests:
            self.calls += 1
            low, high, last = 1, 64, None
            for message in request.messages:
                if message.role == "assistant":
                    last = int(message.content.split()[-1])
                elif message.content in ("higher", "lower") and last is not None:
                    low, high = (last + 1, high) if message.content == "higher" else (low, last - 1)
            results.append(Generation(f"GUESS {(low + high) // 2}"))
        return results


class SlowReplay(ReplayBackend):
    """The replay backend, ``delay`` seconds slower per call (to kill a run mid-way)."""

    name = "slow-replay"

    def __init__(self, path, delay: str | float = "0.02"):
        super().__init__(path)
        self.delay = float(delay)

    def generate(self, requests):
        time.sleep(self.delay)
        return super().generate(requests)


@hookimpl
def lemur_benchmarks():
    return [
        ComponentSpec("toy-sum", f"{NAME}:ToySum", "sums"),
        ComponentSpec("toy-guess", f"{NAME}:ToyGuess", "find a hidden number"),
        ComponentSpec("toy-choice", f"{NAME}:ToyChoice", "multiple choice by log-likelihood"),
    ]


@hookimpl
def lemur_envs():
    return [ComponentSpec("lemur-test/HiddenNumber-v0", f"{NAME}:HiddenNumberEnv", options={"max_episode_steps": 20})]


@hookimpl
def lemur_model_backends():
    return [
        ComponentSpec("test-bisect", f"{NAME}:BisectModel", "bisection by reading the chat"),
        ComponentSpec("slow-replay", f"{NAME}:SlowReplay", "replay with a delay per call"),
    ]
