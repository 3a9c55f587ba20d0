"""Replay InterCode's GPT-4 Bash logs and InterCode-Bash's gold commands through ``lemur/InterCode-Bash-v0``."""

from __future__ import annotations

import json
from pathlib import Path

LOGS = "intercode/data/results/bash/gpt-4/ic_bash_multiturn_gpt-4_10_turns_fs_{}.json"


def replay_log(file_system: int, data_dir: Path, backend: str = "local", system_root: str | None = "auto") -> dict:
    """Step every logged action of GPT-4's episodes on ``file_system``; collect per-turn rewards.

    ``system_root`` is the env's (``"auto"``: InterCode-Bash's system tree when built).

    Returns:
        ``{"turns": n, "mismatches": [(task_id, turn, action, logged, ours, our_obs, logged_obs)],
        "gold": {task_id: reward of the gold command as the action}}``.
    """
    from lemur.envs.intercode.bash import InterCodeBashEnv

    log = json.loads((data_dir / LOGS.format(file_system)).read_text())
    env = InterCodeBashEnv(file_system, backend=backend, data_dir=str(data_dir), system_root=system_root)
    turns, mismatches, gold = 0, [], {}
    try:
        for episode in log.values():
            task_id = episode["task_id"]
            env.reset(options={"task_id": task_id})
            history = episode["turn_history"]
            for turn, (action, logged, logged_obs) in enumerate(
                zip(history["actions"], history["rewards"], history["observations"], strict=True)
            ):
                observation, reward, _terminated, _truncated, _info = env.step(action)
                turns += 1
                if abs(reward - logged) > 0.01:
                    mismatches.append((task_id, turn, action, logged, reward, observation[:300], str(logged_obs)[:300]))
        for task_id, task in enumerate(env.tasks):
            env.reset(options={"task_id": task_id})
            command = ";".join(task["gold"]) if isinstance(task["gold"], list) else task["gold"]
            gold[task_id] = env.step(command)[1]
    finally:
        env.close()
    return {"turns": turns, "mismatches": mismatches, "gold": gold}


if __name__ == "__main__":
    import sys

    # bash_replay.py FS DATA_DIR [SYSTEM_ROOT]: "none" runs on the host's system tree.
    root = sys.argv[3] if len(sys.argv) > 3 else "auto"
    result = replay_log(int(sys.argv[1]), Path(sys.argv[2]), system_root=None if root == "none" else root)
    print(json.dumps(result, indent=1))
