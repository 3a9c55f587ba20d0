"""InterCode-Bash on the real NL2Bash tasks, file systems and GPT-4 trajectories."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium
import pytest

from lemur.envs.intercode.bash_reward import answer_similarity, bash_reward, tfidf_cosine
from lemur.envs.intercode.git_status import MANIFEST_SCRIPT, git_status_short, parse_manifest, parse_status
from lemur.envs.sandbox import SandboxUnavailableError, get_backend

sys.path.insert(0, str(Path(__file__).parent))
from bash_replay import LOGS, replay_log

# Why a replayed GPT-4 turn can score differently here than in InterCode's log (by more than 0.01).
# The replay runs on InterCode-Bash's system tree (Debian 11 with the packages of InterCode's Ubuntu
# 22.04 image, bash 5.1 as there: no xxd or g++, host name and /etc/hosts as a container's), as root
# with /etc, /var, /root and new /usr entries writable, so tools, ownership, permissions and host
# identity no longer differ.
CLOCK = "clock/date: dates, load, calendars, file ages (files are made at session start; InterCode's image was older)"
ORDER = "directory order: tmpfs vs overlayfs list entries in different orders (find, globs, tar, ls -U)"
DISK_USAGE = "df/disk: tmpfs vs overlayfs block accounting and directory sizes (du, find -size, ls -s, ls -l)"
NETWORK = "network: none in the sandbox (curl, dig; wget and sudo are missing in both)"
READLINE = "Debian vs Ubuntu, readline: bind -p/-P name meta keys \\e where InterCode's bash (5.1 too) wrote \\M-"
DEBIAN_FILES = (
    "Debian vs Ubuntu, package files: the command walks all of / and sees Debian 11's files, not Ubuntu 22.04's with"
    " its recommends (fewer files, other changelogs), and the host kernel's /proc without /sys (errors, timeouts)"
)
SYSTEM = (
    "other, system files: InterCode's image had apt/dpkg logs in /var/log (empty here) and other entries at / (its"
    " setup script, sys), which the gold or the agent read"
)
HOST = "other, container state: docker exec's environment variables (HOSTNAME, the Dockerfile's ENV) and process list"
INTERCODE_RESET = (
    "other, InterCode's reset: git reset --hard; git clean -fd keeps git-ignored paths (/root, /var, ...), so its gold"
    " container kept the first gold run's ~/newlinks and later runs linked into /workspace; here each run starts clean"
)

#: ``(file_system, task_id): causes`` of every task with a replayed turn off by more than 0.01
#: (from full replays on this machine on InterCode-Bash's system tree; each turn checked by its
#: action, our and the logged output). Turns within 0.01 (``bash_replay.py``): fs 1 356/401,
#: fs 2 284/310, fs 3 295/334, fs 4 111/131 (1046/1176; on a Debian 12 tree, bash 5.2, in the same
#: session: 1009/1176); clock-dependent turns vary by a few from run to run.
KNOWN_REPLAY_MISMATCHES: dict[tuple[int, int], tuple[str, ...]] = {
    (1, 11): (CLOCK,),
    (1, 12): (CLOCK,),
    (1, 21): (DEBIAN_FILES,),
    (1, 30): (ORDER, DEBIAN_FILES),
    (1, 46): (SYSTEM, CLOCK),
    (1, 47): (CLOCK,),
    (1, 51): (DISK_USAGE,),
    (1, 55): (DEBIAN_FILES,),
    (2, 2): (ORDER,),
    (2, 12): (DEBIAN_FILES,),
    (2, 18): (CLOCK,),
    (2, 32): (CLOCK,),
    (2, 37): (CLOCK,),
    (2, 42): (CLOCK,),
    # InterCode's agent and gold containers listed folder1 in different orders, so their tar.gz
    # differed (0.67); here both runs list it alike and the archives are equal (1.0).
    (2, 48): (ORDER,),
    (2, 49): (NETWORK,),
    (3, 10): (ORDER, CLOCK),
    (3, 16): (ORDER, DISK_USAGE),
    (3, 20): (DISK_USAGE,),
    (3, 22): (DISK_USAGE,),
    # The gold (`ls -p | ... | xargs md5sum` at /) lists the entries of /; with Ubuntu's (boot, home,
    # ... as here) the output similarity rounds to 0.00, InterCode logged 0.01: its / held more.
    (3, 28): (SYSTEM,),
    (3, 42): (INTERCODE_RESET,),
    (4, 1): (NETWORK,),
    # `which c++ | xargs ls -l`: c++ is missing in both, so ls -l lists the current directory, /.
    (4, 2): (CLOCK, DISK_USAGE),
    (4, 4): (HOST,),
    (4, 5): (HOST,),
    (4, 9): (READLINE,),
    (4, 21): (CLOCK,),
    (4, 25): (CLOCK,),
}

#: Gold commands that do not score 1.0 against their own earlier run: ``(fs, task_id): cause``.
KNOWN_GOLD_EXCEPTIONS: dict[tuple[int, int], str] = {
    (1, 11): "the gold backgrounds its work (&), so its output can vary between runs",
    (1, 30): DEBIAN_FILES + " ($DIRECTORY is unset, so find walks /; /proc changes between runs)",
    (2, 42): CLOCK + " (echo $(date))",
    (2, 49): NETWORK + " (curl's progress meter varies with timing)",
    (4, 25): CLOCK + " (w prints the load average)",
}


def _local_available() -> None:
    try:
        get_backend("local").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def fs1_env(shared_data):
    _local_available()
    from lemur.envs.intercode.bash import InterCodeBashEnv

    env = InterCodeBashEnv(1, data_dir=str(shared_data))
    yield env
    env.close()


# -- the reward, against independent references ----------------------------------------------------


def _logged_observation_pairs(shared_data: Path) -> list[tuple[str, str]]:
    log = json.loads((shared_data / LOGS.format(1)).read_text())
    observations = [o for e in log.values() for o in e["turn_history"]["observations"] if isinstance(o, str)]
    return list(zip(observations[::2], observations[1::2], strict=False))[:200]


def test_tfidf_cosine_matches_scikit_learn(shared_data):
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text", reason="scikit-learn is the reference")
    pairs = _logged_observation_pairs(shared_data) + [("Hello, hello world", "world HELLO"), ("a b", "c d")]
    for first, second in pairs:
        try:
            tfidf = sklearn_text.TfidfVectorizer().fit_transform([first, second])
            expected = (tfidf * tfidf.T).toarray()[0][1]
        except ValueError:
            with pytest.raises(ValueError):
                tfidf_cosine(first, second)
            continue
        assert tfidf_cosine(first, second) == pytest.approx(expected, abs=1e-12)


def test_answer_similarity_falls_back_to_equality_without_vocabulary():
    assert answer_similarity("", "") == 1
    assert answer_similarity("1\n", "2\n") == 0
    assert answer_similarity("a", "a") == 1


def _host_manifest(root: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", MANIFEST_SCRIPT, json.dumps([str(root)])], capture_output=True, text=True
    )
    return {"/" + path[len(str(root)) + 1 :]: entry for path, entry in parse_manifest(out.stdout).items()}


def test_git_status_emulation_matches_git(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed (the reference for InterCode's status)")
    root = tmp_path / "fs"
    (root / "testbed" / "dir1").mkdir(parents=True)
    (root / "testbed" / "keep.txt").write_text("keep\n")
    (root / "testbed" / "edit.txt").write_text("old\n")
    (root / "testbed" / "gone.txt").write_text("bye\n")
    (root / "testbed" / "run.sh").write_text("echo\n")
    (root / "testbed" / "dir1" / "a.txt").write_text("a\n")
    (root / "etc").mkdir()
    (root / "etc" / "conf").write_text("x\n")
    (root / ".gitignore").write_text("\n".join(["bin", "etc", "usr", "var", "tmp_ignored"]) + "\n")

    def git(*args: str) -> str:
        env = {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        }
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env=env, check=True).stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "initial")
    committed = _host_manifest(root)
    (root / "testbed" / "edit.txt").write_text("new\n")
    (root / "testbed" / "gone.txt").unlink()
    (root / "testbed" / "run.sh").chmod(0o755)
    (root / "testbed" / "new dir" / "deep").mkdir(parents=True)
    (root / "testbed" / "new dir" / "deep" / "f.txt").write_text("f\n")
    (root / "testbed" / "dir1" / "b.txt").write_text("b\n")
    (root / "testbed" / "empty").mkdir()
    (root / "testbed" / "with space.txt").write_text("s\n")
    (root / "tmp").mkdir()
    (root / "tmp" / "x").write_text("x\n")
    (root / "etc" / "new").write_text("ignored\n")
    current = _host_manifest(root)
    expected = git("-c", "core.quotePath=true", "status", "--short")
    ours = git_status_short(committed, current).replace("?? .gitignore\n", "")
    assert sorted(ours.splitlines()) == sorted(expected.splitlines())
    assert sorted(parse_status(ours)) == sorted(parse_status(expected))


def test_reward_parts_follow_intercode():
    committed = {"/testbed/a.txt": ("f", "1")}
    gold = {"/testbed/a.txt": ("f", "1"), "/testbed/b.txt": ("f", "2")}
    same, details = bash_reward(committed, dict(gold), gold, "x y", "x y")
    assert (same, details["file_diff"], details["file_changes"]) == (1.0, 0.33, 0.33)
    wrong_content = {"/testbed/a.txt": ("f", "1"), "/testbed/b.txt": ("f", "3")}
    reward, details = bash_reward(committed, wrong_content, gold, "x y", "x y")
    assert (details["file_diff"], details["file_changes"], reward) == (0.33, 0.0, 0.67)
    reward, details = bash_reward(committed, committed, gold, "x y", "x y")
    assert (details["file_diff"], details["diff_miss"]) == (0.05, [("testbed/b.txt", "??")])
    assert reward == pytest.approx(0.01 + 0.05 + 0.33 + 0.33)


# -- the environment ------------------------------------------------------------------------------------


def _tree_hash(env) -> str:
    """Hash of every path, type, mode, size, mtime and content under the writable roots."""
    listing = env.fs.session.exec(
        ["/bin/sh", "-c", 'find "$@" -printf "%p %y %m %s %T@\\n" | sort', "sh", *env.fs.roots], cwd="/"
    ).stdout
    manifest = json.dumps(env.fs.manifest(), sort_keys=True)
    return hashlib.sha256((listing + manifest).encode()).hexdigest()


def test_reset_restores_the_file_tree_exactly(fs1_env):
    fs1_env.reset(options={"task_id": 0})
    before = _tree_hash(fs1_env)
    for action in [
        "rm -rf /testbed/dir1",
        "echo new > /testbed/Hello.java",
        "chmod 000 /testbed/dir2",
        "mkdir -p /testbed/x && touch /testbed/x/y /tmp/z",
        "touch -t 200001010000 /testbed/FooBar.html",
        "cd /testbed/dir3",
        "sleep 30 &",
    ]:
        fs1_env.step(action)
    assert _tree_hash(fs1_env) != before
    fs1_env.reset(options={"task_id": 0})
    assert _tree_hash(fs1_env) == before
    assert fs1_env.fs.workdir == "/"


def test_top_level_of_root_is_writable_tracked_and_reset(fs1_env):
    fs1_env.reset(options={"task_id": 0})
    assert "/new.txt" not in fs1_env.fs.manifest()
    observation, _, _, _, info = fs1_env.step("echo x > /new.txt && mkdir -p /var/log && echo y > /var/log/z")
    assert info["action_executed"], observation
    manifest = fs1_env.fs.manifest()
    # git at / tracks new top-level files; it ignores var, usr, proc ... (docker.gitignore)
    assert "/new.txt" in manifest and not any(path.startswith(("/var/", "/usr/", "/proc/")) for path in manifest)
    assert "?? new.txt" in git_status_short(fs1_env.fs.committed, manifest).splitlines()
    fs1_env.reset(options={"task_id": 0})
    assert "/new.txt" not in fs1_env.fs.manifest()
    assert fs1_env.step("ls /new.txt /var")[4]["action_executed"] is False


def test_commands_run_as_root_and_system_writes_reset(fs1_env):
    fs1_env.reset(options={"task_id": 0})
    hosts = fs1_env.step("cat /etc/hosts")[0]
    # InterCode's docker exec ran as root: ownership shows root, and permissions do not stop it.
    observation = fs1_env.step("whoami; echo ~; stat -c '%U:%G' /testbed/Hello.java; chmod 000 /testbed/Hello.java")[0]
    assert observation.splitlines() == ["root", "/root", "root:root"], observation
    assert fs1_env.step("cat /testbed/Hello.java")[4]["action_executed"]
    action = "echo 10.0.0.1 db >> /etc/hosts && cp -r /testbed /usr && mkdir -p /var/log/x /root/y && echo done"
    assert fs1_env.step(action)[0] == "done\n"
    # /etc, /usr, /var and /root are git-ignored in InterCode: nothing of this counts in the reward.
    assert not any(path.startswith(("/etc/", "/usr/", "/var/", "/root/")) for path in fs1_env.fs.manifest())
    fs1_env.reset(options={"task_id": 0})
    assert fs1_env.step("cat /etc/hosts")[0] == hosts
    assert fs1_env.step("ls -d /usr/testbed /var/log/x /root/y")[4]["action_executed"] is False


def test_reset_restores_a_second_root_exactly(shared_data):
    _local_available()
    from lemur.envs.intercode.bash import InterCodeBashEnv

    env = InterCodeBashEnv(3, data_dir=str(shared_data))
    try:
        env.reset(options={"task_id": 0})
        assert "/backup" in env.fs.roots and env.step("cat /backup/file.txt")[0] == "new file\n\n"
        before = _tree_hash(env)
        env.step("rm -rf /backup/* /workspace/dir1 && mkdir /backup/d && echo x > /backup/d/y && chmod 000 /backup/d")
        assert _tree_hash(env) != before
        env.reset(options={"task_id": 0})
        assert _tree_hash(env) == before
    finally:
        env.close()


def test_actions_submit_skip_and_cd(fs1_env):
    query, info = fs1_env.reset(options={"task_id": 0})
    assert query == fs1_env.tasks[0]["query"] and info["task_id"] == 0
    observation, reward, terminated, truncated, info = fs1_env.step("cd /testbed")
    assert (observation, terminated, info["action_executed"]) == ("", False, True)
    observation, _, _, _, _ = fs1_env.step("ls *.java")
    assert "Hello.java" in observation
    observation, reward, terminated, _, info = fs1_env.step("submit")
    details = info["reward_details"]
    assert terminated and "Hello.java" in observation
    assert reward == 0.01 + details["file_diff"] + details["file_changes"] + details["answer_similarity"]
    fs1_env.reset(options={"task_id": 0})
    assert fs1_env.step("skip")[:3] == ("skipped", 0.0, True)
    fs1_env.reset(options={"task_id": 0})
    gold = fs1_env.tasks[0]["gold"]
    _, reward, terminated, _, info = fs1_env.step(gold)
    assert (reward, terminated, info["success"]) == (1.0, True, True)
    fs1_env.reset(options={"task_id": 0})
    observation, reward, _, _, info = fs1_env.step('echo "unbalanced')
    assert (observation, info["action_executed"]) == ("Malformed command", False)


def test_persistent_shell_keeps_variables_and_cwd_until_reset(shared_data):
    _local_available()
    from lemur.core.errors import ConfigError
    from lemur.envs.intercode.bash import InterCodeBashEnv

    with pytest.raises(ConfigError, match="shell 'zsh' is not one of"):
        InterCodeBashEnv(4, data_dir=str(shared_data), shell="zsh")
    env = InterCodeBashEnv(1, data_dir=str(shared_data), shell="persistent")
    exec_env = InterCodeBashEnv(1, data_dir=str(shared_data))
    try:
        for each in (env, exec_env):
            each.reset(options={"task_id": 0})
            each.step("X=42; cd /testbed/dir1")
        assert env.step("echo $X; pwd")[0] == "42\n/testbed/dir1\n"
        # InterCode's way: variables are lost, and only an action that starts with cd moves
        assert exec_env.step("echo $X; pwd")[0] == "\n/\n"
        assert env.step("ls /nonexistent")[4]["action_executed"] is False
        _, reward, _, _, _ = env.step(env.tasks[0]["gold"])
        assert reward == 1.0
        env.reset(options={"task_id": 0})
        assert env.step("echo $X; pwd")[0] == "\n/\n"
    finally:
        env.close()
        exec_env.close()


def test_registered_with_ten_turns_and_passes_check_env(shared_data, fs1_env):
    from gymnasium.utils.env_checker import check_env

    import lemur.envs  # noqa: F401 - registers the environments

    assert gymnasium.spec("lemur/InterCode-Bash-v0").max_episode_steps == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(fs1_env, skip_render_check=True)


def test_system_root_is_intercodes_tree_when_built_else_the_host_with_a_warning(shared_data, monkeypatch, tmp_path):
    from lemur.core.errors import ConfigError
    from lemur.envs.intercode.bash import InterCodeBashEnv
    from lemur.envs.sandbox.system_roots import find_root, root_path

    built = find_root("intercode-bash")
    if built is not None:
        assert InterCodeBashEnv(4, data_dir=str(shared_data)).system_root == str(built)
    monkeypatch.setenv("LEMUR_CACHE_DIR", str(tmp_path))
    assert root_path("intercode-bash").parent == tmp_path / "system-roots"
    with pytest.warns(UserWarning, match="lemur envs build-root intercode-bash"):
        assert InterCodeBashEnv(4, data_dir=str(shared_data)).system_root is None
    assert InterCodeBashEnv(4, data_dir=str(shared_data), system_root=None).system_root is None
    assert InterCodeBashEnv(4, backend="docker", data_dir=str(shared_data)).system_root is None
    with pytest.raises(ConfigError, match="system_root is the local backend's"):
        InterCodeBashEnv(4, backend="docker", data_dir=str(shared_data), system_root=str(tmp_path))


def test_make_through_gymnasium(shared_data):
    _local_available()
    import lemur.envs  # noqa: F401

    env = gymnasium.make("lemur/InterCode-Bash-v0", file_system=4, data_dir=str(shared_data))
    try:
        observation, info = env.reset(options={"task_id": 0})
        assert info["file_system"] == 4 and observation == env.unwrapped.tasks[0]["query"]
    finally:
        env.close()


# -- GPT-4 replay and gold commands ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def replays(shared_data):
    """Every file system's replay on InterCode-Bash's system tree, two at a time in worker processes.

    About 5 minutes on 2 cores. The expectations below hold on that tree (CI builds it); on the
    host's tree commands see other tools and files, so the replay skips without it.
    """
    _local_available()
    from concurrent.futures import ProcessPoolExecutor

    from lemur.envs.sandbox.system_roots import find_root

    tree = find_root("intercode-bash")
    if tree is None:
        pytest.skip("InterCode-Bash's system tree is not built; run `lemur envs build-root intercode-bash`")
    with ProcessPoolExecutor(2) as pool:
        futures = {fs: pool.submit(replay_log, fs, shared_data, "local", str(tree)) for fs in (1, 2, 3, 4)}
        return {fs: future.result() for fs, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("file_system", [1, 2, 3, 4])
def test_gpt4_replay_matches_the_logged_rewards(replays, file_system):
    result = replays[file_system]
    print(f"fs_{file_system}: {result['turns']} turns replayed, {len(result['mismatches'])} differ by > 0.01")
    unexplained = []
    for task_id, turn, action, logged, ours, our_obs, logged_obs in result["mismatches"]:
        causes = KNOWN_REPLAY_MISMATCHES.get((file_system, task_id))
        print(f"  task {task_id} turn {turn}: logged {logged} ours {ours} ({causes or 'UNEXPLAINED'}): {action!r}")
        if causes is None:
            unexplained.append((task_id, turn, action, logged, ours, our_obs, logged_obs))
    assert not unexplained, json.dumps(unexplained, indent=1)
    assert result["turns"] == {1: 401, 2: 310, 3: 334, 4: 131}[file_system]


@pytest.mark.slow
@pytest.mark.parametrize("file_system", [1, 2, 3, 4])
def test_gold_commands_score_one(replays, file_system):
    bad = {
        task_id: reward
        for task_id, reward in replays[file_system]["gold"].items()
        if reward != 1.0 and (file_system, task_id) not in KNOWN_GOLD_EXCEPTIONS
    }
    assert not bad, bad


@pytest.mark.docker
def test_docker_backend_gold_and_exact_reset(shared_data):
    try:
        get_backend("docker").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"docker backend unavailable: {error}")
    from lemur.envs.intercode.bash import InterCodeBashEnv

    env = InterCodeBashEnv(1, backend="docker", data_dir=str(shared_data))
    try:
        env.reset(options={"task_id": 0})
        before = _tree_hash(env)
        _, reward, terminated, _, _ = env.step(env.tasks[0]["gold"])
        assert (reward, terminated) == (1.0, True)
        env.step("rm -rf /testbed/dir1 && touch /tmp/new")
        env.reset(options={"task_id": 0})
        assert _tree_hash(env) == before
    finally:
        env.close()
