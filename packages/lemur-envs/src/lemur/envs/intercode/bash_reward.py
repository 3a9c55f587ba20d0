"""InterCode-Bash's reward: ``0.01 + p1 + p2 + p3`` from file-system changes and output similarity.

Exactly as ``BashEnv.get_reward`` of ``princeton-nlp/intercode@c3e46d8`` computes it:

* ``p1 = round(0.33 * (1 - erf(|miss| + |extra|)), 2)`` over the parsed ``git status`` entries
  (``(path, status)`` pairs) of the agent's and the gold's file systems;
* ``p2 = round(0.33 * equal / len(same), 2)`` over the entries both changed with status ``A``,
  ``??`` or ``C`` (0.33 when there are none); an entry is equal when ``md5sum <path>`` prints the
  same in both (paths with a dot) and always for the others (InterCode runs ``md5deep``, which
  its images lack, so both sides print the same error);
* ``p3 = round(0.33 * cosine, 2)`` of the TF-IDF vectors of the two outputs, with scikit-learn's
  ``TfidfVectorizer()`` defaults (lowercase, token pattern ``(?u)\\b\\w\\w+\\b``, smoothed idf,
  L2 norm), reimplemented here; an empty vocabulary falls back to exact equality (1 or 0).

The sum is not cleaned up (``0.8200000000000001`` stays), as in InterCode's logs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from lemur.envs.intercode.git_status import Manifest, git_status_short, parse_status

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tfidf_cosine(first: str, second: str) -> float:
    """Cosine similarity of two texts under ``TfidfVectorizer()`` fitted on just these two.

    Raises:
        ValueError: Neither text has a token of two or more word characters (sklearn's
            "empty vocabulary").
    """
    counts = [Counter(_TOKEN.findall(text.lower())) for text in (first, second)]
    vocabulary = set(counts[0]) | set(counts[1])
    if not vocabulary:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    idf = {term: math.log(3 / (1 + sum(term in c for c in counts))) + 1 for term in vocabulary}
    vectors = []
    for count in counts:
        weights = {term: n * idf[term] for term, n in count.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        vectors.append({term: w / norm for term, w in weights.items()} if norm else {})
    return sum(w * vectors[1].get(term, 0.0) for term, w in vectors[0].items())


def answer_similarity(agent_obs: Any, gold_obs: Any) -> float:
    """InterCode's ``answer_similarity``: TF-IDF cosine, or exact equality when that cannot be computed."""
    try:
        if not isinstance(agent_obs, str) or not isinstance(gold_obs, str):
            raise ValueError("not text")
        return tfidf_cosine(agent_obs, gold_obs)
    except ValueError:
        return 1 if agent_obs == gold_obs else 0


def _md5sum_output(manifest: Manifest, path: str) -> Any:
    """What decides ``md5sum <path>``'s output in a file system: the file's digest, else an error."""
    entry = manifest.get("/" + path)
    if entry is None or entry[0] == "l":
        # a symlink is followed by md5sum; resolve by content where both sides are files
        return ("absent-or-link", entry[1] if entry else None)
    return ("file", entry[1])


def bash_reward(
    committed: Manifest,
    agent_files: Manifest,
    gold_files: Manifest,
    agent_obs: Any,
    gold_obs: Any,
) -> tuple[float, dict[str, Any]]:
    """InterCode-Bash's reward of the agent's state against the gold's (see the module docstring).

    Args:
        committed: Manifest of the task file system right after setup.
        agent_files: Manifest of the agent's file system now.
        gold_files: Manifest after the gold command ran on a fresh copy.
        agent_obs: The agent's last observation.
        gold_obs: The gold command's output.

    Returns:
        The reward and InterCode's details: ``file_diff`` (p1), ``file_changes`` (p2),
        ``answer_similarity`` (p3), ``diff_miss``, ``diff_extra``, ``diff_same``, ``agent_obs``
        and ``eval_obs``.
    """
    diff_agent = parse_status(git_status_short(committed, agent_files))
    diff_eval = parse_status(git_status_short(committed, gold_files))
    miss = set(diff_eval) - set(diff_agent)
    extra = set(diff_agent) - set(diff_eval)
    p1 = round(0.33 * (1 - math.erf(len(miss) + len(extra))), 2)
    same = [entry for entry in set(diff_agent) & set(diff_eval) if entry[1] in ("A", "??", "C")]
    p2 = 0.33
    equal = 0
    if same:
        for path, _status in same:
            if "." not in path:
                equal += 1  # md5deep is missing on both sides: the same error text
            else:
                equal += _md5sum_output(agent_files, path) == _md5sum_output(gold_files, path)
        p2 = round(0.33 * (equal / len(same)), 2)
    similarity = answer_similarity(agent_obs, gold_obs)
    p3 = round(0.33 * similarity, 2)
    reward = 0.01
    reward += p1
    reward += p2
    reward += p3
    details = {
        "file_diff": p1,
        "file_changes": p2,
        "answer_similarity": p3,
        "similarity": similarity,
        "diff_miss": sorted(miss),
        "diff_extra": sorted(extra),
        "diff_same": {"files": sorted(same), "correct": equal, "total": len(same)},
        "agent_obs": agent_obs,
        "eval_obs": gold_obs,
    }
    return reward, details
