"""A 'model' that answers InterCode chats with the actions GPT-4 took in InterCode's own logs.

Spec ``gpt4-log:<language>:<log file>[,<log file>...]``. Each chat's question (the first user
message) selects the logged episode (tasks sharing a question take their episodes in task
order); the n-th call for that question returns the n-th logged action, written so that the
InterCode parsers give it back unchanged; a question the log lacks gets ``skip``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec
from lemur.eval.models.base import Generation, ModelBackend

_QUESTION = re.compile(r'^(?:Query: "(.*)"\.|Task: (.*))$', re.DOTALL)


class GPT4LogModel(ModelBackend):
    """Replays GPT-4's logged InterCode actions, one per call, per question."""

    name = "gpt4-log"

    def __init__(self, spec: str) -> None:
        self.language, paths = spec.split(":", 1)
        self.episodes: dict[str, list[list[str]]] = defaultdict(list)
        for path in paths.split(","):
            log = json.loads(open(path).read())
            for episode in sorted(log.values(), key=lambda e: e["task_id"]):
                self.episodes[episode["query"]].append(episode["turn_history"]["actions"])
        self.current: dict[str, list[str]] = {}
        self.calls: dict[str, int] = defaultdict(int)

    @property
    def identity(self):
        return {"backend": self.name, "language": self.language}

    def generate(self, requests):
        out = []
        for request in requests:
            first = next(m.content for m in request.messages if m.role == "user")
            match = _QUESTION.match(first)
            question = match.group(1) if match.group(1) is not None else match.group(2)
            if not any(m.role == "assistant" for m in request.messages):  # a new episode
                queue = self.episodes.get(question)
                self.current[question] = queue.pop(0) if queue else ["skip"]  # a task the log lacks
                self.calls[question] = 0
            actions = self.current[question]
            turn = self.calls[question]
            self.calls[question] += 1
            action = actions[min(turn, len(actions) - 1)]
            if self.language == "ctf":
                out.append(Generation(f"Action: {action}"))
            elif self.language == "bash":
                # unfenced: InterCode's bash parser takes such a reply as it is (a fenced one is lower-cased)
                out.append(Generation(action))
            else:
                out.append(Generation(f"```{self.language}\n{action}\n```"))
        return out


@hookimpl
def lemur_model_backends():
    return [ComponentSpec("gpt4-log", f"{__name__}:GPT4LogModel", "GPT-4's InterCode actions")]
