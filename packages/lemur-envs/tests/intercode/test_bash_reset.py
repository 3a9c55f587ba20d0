"""InterCode-Bash's gold runs off the reset path (``bash_gold``) and the docker backend's InterCode image."""

from __future__ import annotations

import json
import threading
import time

import pytest

from lemur.envs.intercode.bash_gold import GoldRunner, GoldTwinMismatch, gold_command, reads_clock
from lemur.envs.intercode.task_fs import TaskFileSystem
from lemur.envs.intercode.tasks import bash_tasks
from lemur.envs.sandbox import SandboxUnavailableError, get_backend

LOG = "intercode/data/results/bash/gpt-4/ic_bash_multiturn_gpt-4_10_turns_fs_{}.json"
#: Gold commands whose output depends on file times, archive bytes or a second root: fs 1's
#: ``ls -l``, ``tar czf`` and ``-mtime``; fs 3's ``-daystart -mtime``, ``-cmin``, ``ls -l``,
#: ``find -printf %T@`` (nanoseconds) and its setup's archive, whose bytes hold the build time.
TIME_SENSITIVE = {1: (33, 45, 46, 47, 48), 3: (0, 2, 8, 33, 56, 58)}


def _backend(name: str) -> None:
    try:
        get_backend(name).check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"{name} backend unavailable: {error}")


def _intercode_image() -> None:
    _backend("docker")
    from lemur.envs.sandbox.docker_image import INTERCODE_BASH_IMAGE, require_image

    try:
        require_image(INTERCODE_BASH_IMAGE)
    except SandboxUnavailableError as error:
        pytest.skip(str(error))


def _env(shared_data, file_system: int, backend: str = "local", gold: str = "background"):
    from lemur.envs.intercode.bash import InterCodeBashEnv

    return InterCodeBashEnv(file_system, backend=backend, data_dir=str(shared_data), gold=gold)


def _twin_equals_inline(shared_data, file_system: int, task_ids, backend: str) -> None:
    """The twin's gold run equals a run on a fresh copy of the agent's own sandbox, output and files."""
    env = _env(shared_data, file_system, backend)
    try:
        for task_id in task_ids:
            env.reset(options={"task_id": task_id})
            background = env._gold_run()
            inline = env._run_gold(gold_command(env.tasks[task_id]["gold"]))
            assert background == inline, (task_id, env.tasks[task_id]["gold"])
    finally:
        env.close()


@pytest.mark.parametrize("file_system", sorted(TIME_SENSITIVE))
def test_twin_gold_run_equals_the_inline_run(shared_data, file_system):
    _backend("local")
    _twin_equals_inline(shared_data, file_system, TIME_SENSITIVE[file_system], "local")


def test_reset_does_not_wait_for_the_gold_run(shared_data, monkeypatch):
    _backend("local")
    release = threading.Event()
    original = GoldRunner._run

    def held(self, gold):
        assert release.wait(60), "the test never released the gold run"
        return original(self, gold)

    monkeypatch.setattr(GoldRunner, "_run", held)
    env = _env(shared_data, 1)
    try:
        env.reset(options={"task_id": 0})  # opens both sandboxes; the gold run is held
        env.reset(options={"task_id": 1})
        pending = env._gold_runs[1]
        assert not pending.done()
        release.set()
        _, reward, terminated, _, info = env.step(env.tasks[1]["gold"])
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    finally:
        release.set()
        env.close()


def test_rewards_are_the_same_in_both_gold_modes(shared_data):
    _backend("local")
    log = json.loads((shared_data / LOG.format(1)).read_text())
    episodes = [e for e in log.values() if e["task_id"] in (0, 3, 11, 21, 33, 45, 47)]
    rewards = {}
    for gold in ("background", "inline"):
        env = _env(shared_data, 1, gold=gold)
        try:
            rewards[gold] = []
            for episode in episodes:
                env.reset(options={"task_id": episode["task_id"]})
                for action in episode["turn_history"]["actions"]:
                    rewards[gold].append((episode["task_id"], env.step(action)[1]))
        finally:
            env.close()
    unequal = [(b, i) for b, i in zip(rewards["background"], rewards["inline"], strict=True) if b != i]
    # task 11's gold backgrounds its work (&): its listing races with the manifest in either mode
    assert all(task_id == 11 for (task_id, _), _ in unequal), unequal
    assert len(rewards["background"]) > 2 * len(episodes)


def test_clock_reading_gold_is_rerun_at_each_reset(shared_data):
    _backend("local")
    env = _env(shared_data, 2)
    try:
        env.reset(options={"task_id": 42})  # echo $(date) "1" | tee -a ...
        first = env._gold_run()[0]
        time.sleep(1.1)
        env.reset(options={"task_id": 42})
        second = env._gold_run()[0]
        assert first != second and first.endswith(" 1\n") and second.endswith(" 1\n")
        env.reset(options={"task_id": 0})
        kept = env._gold_runs[0]
        env.reset(options={"task_id": 0})
        assert env._gold_runs[0] is kept  # a gold that does not read the clock runs once
    finally:
        env.close()


def test_reads_clock_finds_the_clock_commands_among_the_gold(shared_data):
    found = {
        (fs, task_id)
        for fs in (1, 2, 3, 4)
        for task_id, task in enumerate(bash_tasks(fs, shared_data))
        if reads_clock(gold_command(task["gold"]))
    }
    # echo $(date); who (x2, login times); cal -h (this month); w (load average)
    assert found == {(2, 42), (4, 18), (4, 21), (4, 22), (4, 25)}
    assert not reads_clock("cal -3 12 2120") and not reads_clock("wc -w file") and reads_clock("x=`date`")


def _open(setup: str) -> TaskFileSystem:
    return TaskFileSystem("local", "/work", setup=(setup,))


def test_twin_takes_the_agents_file_contents_times_and_modes():
    # access times are not compared: reading a file for a reset's copy can move them in either sandbox
    _backend("local")
    # the archive-like file holds the setup's clock, as fs 3's archive.tar.gz does
    setup = "date +%s%N > /work/stamp && echo hi > /work/a.txt && chmod 600 /work/a.txt && mkdir /work/d"
    source = _open(setup)
    runner = GoldRunner(lambda: _open(setup))
    try:
        runner.attach(source)
        command = "cat /work/stamp; ls -l --time-style=full-iso /work /work/d; stat -c '%n %a %y' /work/a.txt"
        twin_output, twin_files = runner.submit(command).result(timeout=60)
        source.reset()
        output, _ok = source.run(command)
        assert (twin_output, twin_files) == (output, source.manifest())
    finally:
        runner.close()
        source.close()


def test_twin_with_other_files_is_an_error():
    _backend("local")
    setup = "mktemp /work/file-XXXXXXXX"
    source = _open(setup)
    runner = GoldRunner(lambda: _open(setup))
    try:
        with pytest.raises(GoldTwinMismatch, match="other paths"):
            runner.attach(source)
    finally:
        runner.close()
        source.close()


def test_unknown_gold_mode_is_a_config_error(shared_data):
    from lemur.core.errors import ConfigError

    with pytest.raises(ConfigError, match="'background', 'inline'"):
        _env(shared_data, 1, gold="cached")


# -- the docker backend with InterCode's tools --------------------------------------------------------


@pytest.mark.docker
def test_docker_intercode_image_has_intercode_tools():
    _intercode_image()
    from lemur.envs.sandbox import SandboxSpec
    from lemur.envs.sandbox.docker_image import INTERCODE_BASH_IMAGE

    tools = "killall cal column crontab convert dig git tree ifconfig ping curl cpio jq mount less patch python3"
    with get_backend("docker").open(SandboxSpec(image=INTERCODE_BASH_IMAGE)) as session:
        result = session.exec(["/bin/bash", "-c", f"for t in {tools}; do command -v $t >/dev/null || echo $t; done"])
        assert result.ok and result.stdout == "", result
        # tools InterCode's image lacked stay missing, so their errors match its logs
        missing = session.exec(["/bin/bash", "-c", "command -v md5deep compress wget zip"])
        assert missing.stdout == ""


@pytest.mark.docker
def test_docker_gold_commands_score_one_with_the_twin(shared_data):
    _intercode_image()
    _twin_equals_inline(shared_data, 3, TIME_SENSITIVE[3], "docker")
    env = _env(shared_data, 1, "docker")
    try:
        for task_id in range(12):
            env.reset(options={"task_id": task_id})
            reward = env.step(gold_command(env.tasks[task_id]["gold"]))[1]
            # task 11's gold backgrounds its work (&); task 6 walks /proc, whose PIDs change
            assert reward == 1.0 or task_id in (6, 11), (task_id, reward)
    finally:
        env.close()
