"""InterCode-SQL on the real tasks, databases and GPT-4 trajectories (both backends)."""

import json
import math
import re
import warnings

import gymnasium
import pytest
from scipy.stats import kendalltau

from lemur.envs.intercode.sql import InterCodeSQLEnv, intercode_sql_reward

LOG = "intercode/data/results/sql/gpt-4/ic_sql_multiturn_gpt-4_10_turns.json"

#: Tasks whose replayed GPT-4 turns score differently on MariaDB than InterCode logged on MySQL 8.
#: Causes: MySQL 8 rejects non-aggregated columns (ONLY_FULL_GROUP_BY) that MariaDB accepts
#: (54, 83, 198, 301, 798); the two servers return GROUP BY / DISTINCT / UNION rows in different
#: orders when the query has no ORDER BY, which changes the Kendall tau factor (66, 117, 214, 308,
#: 413, 483, 567, 637, 642, 676, 806, 807, 809, 822, 828, 888, 897, 904, 967, 994, 1000); date
#: functions (49: STR_TO_DATE); LIMIT without ORDER BY picking another row (50, 871); and InterCode's
#: server never being reset, so earlier tasks' writes changed what later queries saw (710, 787); and
#: ties under ORDER BY count(*) ... LIMIT 1, which MariaDB may break differently from run to run (445, 669, 916).
MARIADB_VS_MYSQL8 = {
    445,
    669,
    916,
    49,
    50,
    54,
    66,
    83,
    117,
    198,
    214,
    301,
    308,
    413,
    483,
    567,
    637,
    642,
    676,
    710,
    787,
    798,
    806,
    807,
    809,
    822,
    828,
    871,
    888,
    897,
    904,
    967,
    994,
    1000,
}
#: Gold queries MariaDB cannot parse (MySQL 8 can): parenthesised INTERSECT/EXCEPT operands.
MARIADB_GOLD_SYNTAX = {164, 178, 225, 531, 638, 802}


def reference_reward(agent, gold):
    """An independent transcription of InterCode's SqlEnv.get_reward (not the module's code)."""
    if not isinstance(agent, list) or not isinstance(gold, list):
        return 0.0
    a, g = [str(x) for x in agent], [str(x) for x in gold]
    if not a and not g:
        return 1.0
    inter = {k: min(a.count(k), g.count(k)) for k in set(a) & set(g)}
    union = {k: max(a.count(k), g.count(k)) for k in set(a) | set(g)}
    reward = sum(inter.values()) / sum(union.values())
    if inter:
        left, right = dict(inter), dict(inter)
        a_shared = [x for x in a if left.get(x, 0) > 0 and not left.__setitem__(x, left[x] - 1)]
        g_shared = [x for x in g if right.get(x, 0) > 0 and not right.__setitem__(x, right[x] - 1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau = kendalltau(a_shared, g_shared).statistic
        if not math.isnan(tau):
            reward = round(tau * reward, 2)
    return reward


@pytest.mark.parametrize(
    ("agent", "gold"),
    [
        ([(1,), (2,), (3,)], [(1,), (2,), (3,)]),
        ([(3,), (2,), (1,)], [(1,), (2,), (3,)]),  # reversed order: tau = -1, a negative reward
        ([(1,), (2,)], [(1,), (2,), (3,), (4,)]),
        ([(1,), (1,), (2,)], [(1,), (2,), (2,)]),
        ([("a", 1)], [("a", 1), ("b", 2)]),  # one shared row: tau undefined, IoU kept unrounded
        ([], []),
        ([], [(1,)]),
        ("Error executing query: no such table", [(1,)]),
        (None, [(1,)]),
    ],
)
def test_reward_matches_an_independent_transcription(agent, gold):
    assert intercode_sql_reward(agent, gold) == reference_reward(agent, gold)
    assert intercode_sql_reward([(3,), (2,), (1,)], [(1,), (2,), (3,)]) == -1.0


@pytest.fixture(scope="module")
def gpt4_log(shared_data):
    return json.loads((shared_data / LOG).read_text())


def replay(env, log):
    """Replay every logged action; return (turns, agreeing turns, task ids with a disagreement)."""
    turns, agreeing, tasks = 0, 0, set()
    for episode in log.values():
        env.reset(options={"task_id": episode["task_id"]})
        history = episode["turn_history"]
        for action, logged in zip(history["actions"], history["rewards"], strict=True):
            _, reward, terminated, _, _ = env.step(action)
            turns += 1
            if abs(reward - logged) <= 0.01:
                agreeing += 1
            else:
                tasks.add(episode["task_id"])
            if terminated:
                break
    return turns, agreeing, tasks


@pytest.fixture(scope="module")
def sqlite_env(shared_data, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEMUR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        env = InterCodeSQLEnv(data_dir=shared_data)
        yield env
        env.close()


@pytest.fixture(scope="module")
def mariadb_env(shared_data):
    from lemur.envs.intercode.sql_backends import SQLBackendError

    try:
        env = InterCodeSQLEnv(backend="mysql", data_dir=shared_data)
    except SQLBackendError as error:
        pytest.skip(f"no MariaDB/MySQL server: {error}")
    yield env
    env.close()


@pytest.mark.slow
def test_gpt4_trajectories_replay_on_mariadb(mariadb_env, gpt4_log):
    turns, agreeing, tasks = replay(mariadb_env, gpt4_log)
    print(f"MariaDB: {agreeing}/{turns} logged per-turn rewards reproduced within 0.01")
    ties = {i for i, task in enumerate(mariadb_env.tasks) if re.search(r"order by .* limit", task["gold"], re.I)}
    assert tasks <= MARIADB_VS_MYSQL8 | ties, sorted(tasks - MARIADB_VS_MYSQL8 - ties)
    assert agreeing / turns > 0.99


@pytest.mark.slow
def test_gold_queries_score_1_on_mariadb_and_sqlite_agreement(mariadb_env, sqlite_env):
    scores = {}
    for name, env in (("mariadb", mariadb_env), ("sqlite", sqlite_env)):
        scores[name] = []
        for task_id, task in enumerate(env.tasks):
            env.reset(options={"task_id": task_id})
            scores[name].append(env.step(task["gold"])[1])
    failing = {i for i, score in enumerate(scores["mariadb"]) if score != 1.0}
    assert failing == MARIADB_GOLD_SYNTAX
    assert all(score == 1.0 for score in scores["sqlite"])
    agree = sum(a == b for a, b in zip(scores["mariadb"], scores["sqlite"], strict=True))
    print(
        f"gold queries: SQLite agrees with MariaDB on {agree}/{len(failing) + agree} (MariaDB syntax gaps: {failing})"
    )


@pytest.mark.slow
def test_gpt4_trajectories_replay_on_sqlite_mostly(sqlite_env, gpt4_log):
    turns, agreeing, tasks = replay(sqlite_env, gpt4_log)
    print(f"SQLite: {agreeing}/{turns} logged per-turn rewards reproduced; {len(tasks)} tasks differ (dialect)")
    assert agreeing / turns > 0.97


def test_episode_writes_are_undone_before_the_next_episode(sqlite_env):
    task_id = next(i for i, t in enumerate(sqlite_env.tasks) if t["db"] == "world_1")
    sqlite_env.reset(options={"task_id": task_id})
    assert sqlite_env.step("SELECT count(*) FROM city")[0] == "[(4079,)]"
    sqlite_env.step("DELETE FROM city")
    assert sqlite_env.step("SELECT count(*) FROM city")[0] == "[(0,)]"
    sqlite_env.reset(options={"task_id": task_id})
    assert sqlite_env.step("SELECT count(*) FROM city")[0] == "[(4079,)]"


def test_explore_submit_skip_and_errors(sqlite_env):
    observation, info = sqlite_env.reset(options={"task_id": 0})
    assert observation.startswith("What are the names of poker players")
    assert info["db"] == "poker_player" and info["success"] is False
    tables, reward, terminated, _, info = sqlite_env.step("SHOW TABLES")
    assert tables == "[('people',), ('poker_player',)]" and reward == 0.0 and not terminated
    assert "('Final_Table_Made', 'REAL', 'YES', '', None, '')" in sqlite_env.step("DESCRIBE poker_player")[0]
    error = sqlite_env.step("SELECT nope FROM poker_player")
    assert error[0].startswith("Error executing query:") and error[4]["action_executed"] is False
    gold = sqlite_env.tasks[0]["gold"]
    observation, reward, terminated, _, info = sqlite_env.step(gold)
    assert (reward, terminated, info["success"]) == (1.0, True, True)
    sqlite_env.reset(options={"task_id": 0})
    assert sqlite_env.step("skip")[:3] == ("skipped", 0.0, True)


def test_registered_with_ten_turns_and_passes_check_env(shared_data, sqlite_env):
    from gymnasium.utils.env_checker import check_env

    import lemur.envs  # noqa: F401 - registers the environments

    assert gymnasium.spec("lemur/InterCode-SQL-v0").max_episode_steps == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(sqlite_env, skip_render_check=True)


def test_mariadb_restores_a_database_changed_through_use(mariadb_env):
    tasks = mariadb_env.tasks
    pets = next(i for i, task in enumerate(tasks) if task["db"] == "pets_1")
    world = next(i for i, task in enumerate(tasks) if task["db"] == "world_1")
    mariadb_env.reset(options={"task_id": pets})
    mariadb_env.step("USE world_1")
    mariadb_env.step("DELETE FROM city")
    assert mariadb_env.step("SELECT count(*) FROM city")[0] == "[(0,)]"
    mariadb_env.reset(options={"task_id": world})
    assert mariadb_env.step("SELECT count(*) FROM city")[0] == "[(4079,)]"
