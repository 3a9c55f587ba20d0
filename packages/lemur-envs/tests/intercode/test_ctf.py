"""InterCode-CTF on the real picoCTF tasks, assets and GPT-4 trajectories."""

from __future__ import annotations

import hashlib
import json
import warnings

import gymnasium
import pytest

from lemur.envs.intercode.ctf import WRONG_FLAG, TaskNeedsNetworkError, ctf_argv
from lemur.envs.sandbox import SandboxUnavailableError, get_backend

LOG = "intercode/data/results/ctf/ic_ctf_multiturn_gpt-4_10_turns.json"
ASSETS = "intercode/data/ctf/task_assets"


@pytest.fixture(scope="module")
def ctf_env(shared_data):
    try:
        get_backend("local").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(str(error))
    from lemur.envs.intercode.ctf import InterCodeCTFEnv

    env = InterCodeCTFEnv(data_dir=str(shared_data))
    yield env
    env.close()


def test_every_offline_gold_flag_scores_one_and_a_wrong_flag_keeps_the_episode_going(ctf_env):
    offline = [task for task in ctf_env.tasks if not task["needs_network"]]
    assert len(offline) == 79
    for task in offline:
        ctf_env.reset(options={"task_id": task["task_id"]})
        observation, reward, terminated, _, info = ctf_env.step("submit nope")
        assert (observation, reward, terminated, info["success"]) == (WRONG_FLAG, 0.0, False, False)
        _, reward, terminated, _, info = ctf_env.step(f"submit {task['gold'].swapcase()}")
        assert (reward, terminated, info["success"]) == (1.0, True, True), task["task_id"]


def test_tasks_that_need_the_internet_are_reported_not_scored(ctf_env):
    needs = {task["task_id"] for task in ctf_env.tasks if task["needs_network"]}
    assert {1, 9, 14, 16, 20, 28, 29, 35, 42, 54} <= needs
    assert 39 in needs and not {4, 15, 59, 91, 96} & needs  # "server" or "port" in prose only
    with pytest.raises(TaskNeedsNetworkError, match="task 9 needs the internet"):
        ctf_env.reset(options={"task_id": 9})


def test_assets_are_in_the_task_folder_without_solutions(ctf_env, shared_data):
    root = shared_data / ASSETS
    checked = 0
    for folder in sorted(root.iterdir(), key=lambda p: int(p.name)):
        task_id = int(folder.name)
        if ctf_env.tasks[task_id]["needs_network"]:
            continue
        expected = sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "solution" not in p.parts
        )
        ctf_env.reset(options={"task_id": task_id})
        listing, _, _, _, _ = ctf_env.step("find . -type f | sed 's|^./||' | sort")
        assert listing.split("\n")[:-1] == expected, task_id
        for name in expected[:1]:
            digest, _, _, _, _ = ctf_env.step(f"sha256sum '{name}'")
            assert digest.split()[0] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        checked += 1
    assert checked > 40


def test_a_real_solve_cd_python_and_reset(ctf_env):
    ctf_env.reset(options={"task_id": 4})
    flag, _, _, _, info = ctf_env.step("cat flag")
    assert info["action_executed"] and flag.startswith("picoCTF{")
    assert ctf_env.step("python3 -c 'import os; print(os.getcwd())'")[0] == "/ctf/4\n"
    ctf_env.step("cd ..")
    assert ctf_env.step("pwd")[0] == "/ctf\n"
    ctf_env.step("rm -rf /ctf/4 && echo junk > /tmp/x")
    assert "No such file" in ctf_env.step("cat 4/flag")[0]
    ctf_env.reset(options={"task_id": 4})
    assert ctf_env.step("cat flag")[0] == flag and ctf_env.step("ls /tmp")[0] == ""
    assert ctf_env.step(f"submit {flag.strip()}")[1] == 1.0
    assert ctf_env.step("skip")[:3] == ("skipped", 0.0, True)


def test_ctf_argv_follows_intercode_clean_cmd():
    wrap = ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh"]
    assert ctf_argv("python3 -c 'print(1)'") == [*wrap, "python3", "-c", "print(1)"]
    assert ctf_argv("cat 'a b' | wc -c") == [*wrap, "/bin/bash", "-c", "cat 'a b' | wc -c"]
    with pytest.raises(ValueError):
        ctf_argv("python3 -c 'unbalanced")


def test_gpt4_submissions_score_as_logged(ctf_env, shared_data):
    log = json.loads((shared_data / LOG).read_text())
    compared = solved = 0
    for episode in log.values():
        task = ctf_env.tasks[episode["task_id"]]
        if task["needs_network"]:
            continue
        ctf_env.reset(options={"task_id": task["task_id"]})
        history = episode["turn_history"]
        for action, logged in zip(history["actions"], history["rewards"], strict=True):
            if action.startswith("submit"):
                _, reward, _, _, _ = ctf_env.step(action)
                assert reward == logged, (task["task_id"], action)
                compared += 1
                solved += reward == 1.0
    print(f"{compared} logged submissions compared, {solved} correct flags")
    assert compared > 30 and solved > 20


def test_registered_with_ten_turns_and_passes_check_env(ctf_env):
    from gymnasium.utils.env_checker import check_env

    import lemur.envs  # noqa: F401 - registers the environments

    assert gymnasium.spec("lemur/InterCode-CTF-v0").max_episode_steps == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(ctf_env, skip_render_check=True)


@pytest.mark.docker
def test_docker_backend_solves_a_task(shared_data):
    try:
        get_backend("docker").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"docker backend unavailable: {error}")
    from lemur.envs.intercode.ctf import InterCodeCTFEnv

    env = InterCodeCTFEnv(backend="docker", data_dir=str(shared_data))
    try:
        env.reset(options={"task_id": 4})
        flag = env.step("cat flag")[0].strip()
        assert env.step(f"submit {flag}")[1] == 1.0
    finally:
        env.close()
