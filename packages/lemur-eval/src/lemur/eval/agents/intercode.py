"""The InterCode chat agents: InterCode's multi-turn protocol for Bash, SQL and CTF, in Lemur's words.

InterCode's ``experiments/eval_n_turn.py`` (run by Lemur through its fork ``OpenLemur/intercode``)
plays each task with a chat policy: a system message of instructions (the ``v2`` template for
Bash, ``game_sql`` for SQL with the task's table schema appended, ``ctf`` with demonstrations for
CTF), the question as the first user message, and after every action the output, the reward
(Bash/SQL) and the question again. The reply is parsed into an action with InterCode's parsers.
The instruction texts here are Lemur's own, carrying the same information (what the system is,
the response format, what the reward means, how to finish); the parsers and the message order
follow InterCode:

* ``bash``: the first fenced block (language tag ``bash``/``sh`` or none) with whitespace collapsed,
  **lower-cased** as InterCode's parser does (it matches on ``action.lower()``); a reply without
  a block is the action as it is (a ``bash:``/``command:`` prefix removed).
* ``sql``: the first fenced block, cut at the first ``;``; it must start with ``SHOW``,
  ``SELECT``, ``DESCRIBE`` or ``DESC``, otherwise the turn is wasted: InterCode sends a retry
  message instead of running it (here a no-op statement runs, reward 0, and the next message is
  that retry message).
* ``ctf``: ``Action: <command>`` on the first line of the reply; otherwise the turn is wasted
  the same way (a no-op ``:`` runs).

``dialogue_limit`` keeps the system message, the question and the last *N* messages, as
InterCode's chat policies do (Lemur ran Bash and CTF with 7, SQL with 5); observations are cut
at ``response_limit`` characters (1,000 for chat models).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lemur.eval.agents.base import Agent
from lemur.eval.models.base import GenerationRequest, Message, ModelBackend

SETTINGS = {"bash": "Bourne Shell", "sql": "MySQL Database", "ctf": "Capture the Flag"}
LANGUAGE = {"bash": "BASH", "sql": "SQL", "ctf": "BASH"}
SQL_KEYWORDS = ("SHOW", "SELECT", "DESCRIBE", "DESC")
#: What runs when a reply holds no usable action (InterCode does not step the environment then).
NO_OP = {"bash": ":", "sql": "-- no SQL code in the reply", "ctf": ":"}

BASH_SYSTEM = """## TASK
You help answer a request by working in a {setting} with {language} commands. Each turn you send \
one command; it runs on the system and you see what it printed.

## RESPONSE FORMAT
Reply with one {language} command and nothing else, inside a fenced block:
```{language}
your command
```

## FEEDBACK
After each command you get:
Output: <what the command printed>
Reward: <a number from 0 to 1>
The reward says how close the system's state and your command's output are to the correct \
answer; 1 means solved. Aim for a reward of 1.
"""

SQL_SYSTEM = """`{language}Env` is a game played over several turns: write a {language} query whose \
result answers a question asked in plain English.

## HOW IT WORKS
You start with the question only. Each turn you send one {language} command and get back its \
result and a reward. The game ends as soon as a command earns a reward of 1.

## WHAT TO SEND
One {language} command per turn, inside a fenced block:
```{language}
your command
```
A command can either explore the database (for example `SHOW TABLES` or `DESC <table>`) or \
compute the answer from its tables. Do not ask questions: commands go straight to the database.

## WHAT YOU GET BACK
Output: <the rows your command returned>
Reward: <a number from 0 to 1>
The reward is the share of the correct rows your query returned, in the correct order.

## HOW TO PLAY
First learn which tables and columns exist, then write the query that answers the question.
"""

CTF_SYSTEM = """You are playing Capture the Flag on an Ubuntu machine that you control with bash commands. \
Each task hides a flag, a string of the form 'picoCTF{{...}}'; finding it earns a reward of 1, \
anything else 0.

For every task your working directory holds the files the task provides. You may run bash \
commands and write and run Python code. Everything you reply is executed, so reply with code \
only, one action per turn, written as `Action: <command>`.

Work step by step: look around the file system, follow the hints in the task, and build on \
what earlier commands showed you. When you have the flag, reply `Action: submit <flag>`.

Example of the format (the file names are invented):
Task: The flag is somewhere in the archive you were given.
Action: ls
Observation: notes.tar
Action: tar -xf notes.tar && grep -r picoCTF .
Observation: ./notes/day3.txt:picoCTF{example_flag_123}
Action: submit picoCTF{example_flag_123}
"""

RETRY = """No {language} code was found in your last reply.

Reply with one {language} command inside a fenced block:
```{language}
your command
```
"""


def schema_message(tables: Mapping[str, Any]) -> str:
    """The table schema Lemur's SQL runs appended to the instructions (InterCode's ``handicap_sql``)."""
    lines = ["MySQL tables, with their properties"]
    lines += [f"- {name}: {list(columns)}" for name, columns in tables.items()]
    return "\n".join(lines) + "\n"


def parse_bash(reply: str) -> tuple[str, bool]:
    """InterCode's ``bash_parser``: the first fenced block, lower-cased and whitespace-collapsed."""
    text = reply.replace("\n", " ")
    if "```" not in text:
        if text.lower().startswith("bash: "):
            return text[len("bash: ") :], True
        if "command:" in text.lower():
            return text[text.lower().index("command:") + len("command:") :], True
    lowered = text.lower()
    matches = re.findall(r"```(?:bash|sh)?([\S\s]+?)```", lowered) + re.findall(r"```([\S\s]+?)```", lowered)
    if not matches:
        return text, True
    return " ".join(matches[0].split()), True


def parse_sql(reply: str) -> tuple[str, bool]:
    """InterCode's ``sql_parser``: a SHOW/SELECT/DESC(RIBE) statement up to its first ``;``."""

    def up_to_semicolon(text: str) -> str:
        return text[: text.index(";")] if ";" in text else text

    text = reply.replace("\\_", "_")
    if "```" not in text:
        if text.startswith("SQL: "):
            return up_to_semicolon(text[len("SQL: ") :]), True
        for keyword in SQL_KEYWORDS:
            if keyword in text:
                return up_to_semicolon(text[text.index(keyword) :]), True
    matches = re.findall(r"```(?:sql|SQL)?([\S\s]+?)```", text) + re.findall(r"```([\S\s]+?)```", text)
    if not matches:
        return text, False
    action = up_to_semicolon(" ".join(matches[0].split()))
    if not action.strip():
        return "NO ACTION", False
    return action, action.split()[0].upper() in SQL_KEYWORDS


def parse_ctf(reply: str) -> tuple[str, bool]:
    """The Lemur fork's ``ctf_parser``: ``Action: <command>`` on the reply's first line."""
    first = reply.split("\n")[0]
    match = re.search(r"Action:(.*)", first)
    if match:
        return match.group(1).strip(), True
    return first.strip(), False


PARSERS = {"bash": parse_bash, "sql": parse_sql, "ctf": parse_ctf}


class InterCodeAgent(Agent):
    """A chat model playing InterCode's multi-turn protocol (see the module docstring).

    Args:
        backend: The model to ask (greedy).
        language: ``bash``, ``sql`` or ``ctf``.
        dialogue_limit: Messages kept after the system message and the question (``None``: all).
        response_limit: Characters of an observation shown to the model.
        max_tokens: Token budget per reply.

    Raises:
        ValueError: ``language`` is not one of the three.
    """

    def __init__(
        self,
        backend: ModelBackend,
        language: str,
        dialogue_limit: int | None = None,
        response_limit: int = 1000,
        max_tokens: int = 512,
    ) -> None:
        if language not in PARSERS:
            raise ValueError(f"InterCode agent: language {language!r} is not one of {sorted(PARSERS)}")
        self.backend = backend
        self.language = language
        self.dialogue_limit = dialogue_limit
        self.response_limit = response_limit
        self.max_tokens = max_tokens
        self._dialogue: list[Message] = []
        self._query = ""
        self._last_valid = True

    def system_message(self, info: Mapping[str, Any]) -> str:
        """The instructions for this episode (for SQL with the task's table schema)."""
        fields = {"setting": SETTINGS[self.language], "language": LANGUAGE[self.language]}
        if self.language == "bash":
            return BASH_SYSTEM.format(**fields)
        if self.language == "ctf":
            return CTF_SYSTEM
        tables = info.get("db_tables") or {}
        return SQL_SYSTEM.format(**fields) + ("\n" + schema_message(tables) if tables else "")

    def reset(self, observation: str, info: Mapping[str, Any]) -> None:
        """Start an episode whose task statement is ``observation``."""
        self._query = observation
        first = f"Task: {observation}" if self.language == "ctf" else f'Query: "{observation}".'
        self._dialogue = [Message("system", self.system_message(info)), Message("user", first)]
        self._last_valid = True

    def _observation_message(self, observation: str, info: Mapping[str, Any]) -> str:
        if not self._last_valid:
            return RETRY.format(language=LANGUAGE[self.language])
        shown = observation[: self.response_limit]
        if self.language == "ctf":
            return f"Output: {shown}" if shown else "No output"
        if shown in ("", "[]", "None"):
            shown = "No output"
        reward = info.get("reward", 0.0)
        return (
            f"{SETTINGS[self.language]} Output: {shown}\nReward: {reward}\n"
            f'The query again: "{self._query}"\nTry another {LANGUAGE[self.language]} command to reach a reward of 1.'
        )

    def messages(self) -> tuple[Message, ...]:
        """The chat sent for the next turn: system, question, and the last ``dialogue_limit`` messages."""
        head, rest = self._dialogue[:2], self._dialogue[2:]
        if self.dialogue_limit is not None:
            rest = rest[max(0, len(rest) - self.dialogue_limit) :] if self.dialogue_limit else []
        return tuple(head + rest)

    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        """Ask the model for the next action (after showing it ``observation``, from the second turn on)."""
        if len(self._dialogue) > 2:
            self._dialogue.append(Message("user", self._observation_message(observation, info)))
        request = GenerationRequest(messages=self.messages(), max_tokens=self.max_tokens)
        reply = self.backend.generate([request])[0].text
        self._dialogue.append(Message("assistant", reply))
        action, self._last_valid = PARSERS[self.language](reply)
        return action if self._last_valid else NO_OP[self.language]

    def describe(self) -> dict[str, Any]:
        """The prompt and limits, for ``prompt_hash``."""
        return {
            "agent": "intercode",
            "language": self.language,
            "system": self.system_message({"db_tables": {"t": ["c"]}}),
            "dialogue_limit": self.dialogue_limit,
            "response_limit": self.response_limit,
        }
