"""Walking a DAG on one machine (``mps process --schedule``): what runs when, what is skipped, how
many at once, with a fake batch runner in place of ffmpeg."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mps.cli.process import _read_schedule
from mps.errors import InvalidParameterError
from mps.models import MediaProcessTaskResult
from mps.models.results import ExecRuleTaskData
from mps.models.schedules import Activity
from mps.workflow.dag import Dag, build_dag
from mps.workflow.execute import pending_result
from mps.workflow.walk import walk_dag


def _trans(successors: list[int], definition: int = 100010) -> dict[str, Any]:
    return {
        "ActivityType": "action-trans",
        "ReardriveIndex": successors,
        "ActivityPara": {"TranscodeTask": {"Definition": definition}},
    }


def _snapshot(successors: list[int]) -> dict[str, Any]:
    return {
        "ActivityType": "action-snapshotByTimeOffset",
        "ReardriveIndex": successors,
        "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [1]}},
    }


#: input -> rule (chooses 2 or 3) -> transcode -> snapshot; input -> sprite; both -> output.
ACTIVITIES: list[dict[str, Any]] = [
    {"ActivityType": "input", "ReardriveIndex": [1, 4]},
    {
        "ActivityType": "action-exec-rules",
        "ReardriveIndex": [2, 3],
        "ActivityPara": {
            "ExecRulesTask": {
                "Rules": [
                    {"Conditions": [{"Key": "Height", "Value": ">=720"}], "RearDriveIndexs": [2]},
                    {"Conditions": [], "RearDriveIndexs": [3]},
                ]
            }
        },
    },
    _trans([5], 100030),
    _trans([5], 100010),
    {
        "ActivityType": "action-image-sprite",
        "ReardriveIndex": [6],
        "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
    },
    {
        "ActivityType": "action-snapshotByTimeOffset",
        "ReardriveIndex": [6],
        "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.5]}},
    },
    {"ActivityType": "output"},
]


def _dag(activities: list[dict[str, Any]] = ACTIVITIES) -> Dag:
    return build_dag([Activity.model_validate(item) for item in activities])


class FakeBatches:
    """Runs batches instantly (or after the longest ``delay`` of its activities): every activity
    succeeds, except ``fail``; the rule activity chooses ``choice``."""

    def __init__(
        self,
        dag: Dag,
        *,
        choice: list[int],
        fail: frozenset[int] = frozenset(),
        delay: dict[int, float] | None = None,
    ) -> None:
        self.dag, self.choice, self.fail, self.delay = dag, choice, fail, delay
        self.batches: list[list[int]] = []
        self.finished: list[int] = []
        self.started: dict[int, int] = {}  # index -> how many had finished when it started
        self.running = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, indexes: Sequence[int]) -> dict[int, MediaProcessTaskResult]:
        with self.lock:
            self.batches.append(list(indexes))
            self.started.update(dict.fromkeys(indexes, len(self.finished)))
            self.running += len(indexes)
            self.most = max(self.most, self.running)
        time.sleep(max((self.delay or {}).get(index, 0.0) for index in indexes))
        entries = {index: self._entry(index) for index in indexes}
        with self.lock:
            self.running -= len(indexes)
            self.finished += list(indexes)
        return entries

    def _entry(self, index: int) -> MediaProcessTaskResult:
        node = self.dag.nodes[index]
        assert node.kind is not None and node.para is not None
        entry = pending_result(node.kind.name, node.para, "FAIL" if index in self.fail else "SUCCESS")
        if node.kind.choose is not None:
            entry.result.Output = ExecRuleTaskData(RearDriveIndex=self.choice)
        return entry


@pytest.mark.parametrize(("choice", "skipped"), [([2], 3), ([3], 2)])
def test_the_rule_chooses_its_branch_and_the_other_is_skipped(choice: list[int], skipped: int) -> None:
    dag = _dag()
    runs = FakeBatches(dag, choice=choice, delay={1: 0.1})
    told: list[int] = []

    outcome = walk_dag(dag, runs, at_once=4, on_skip=told.append)

    assert told == [skipped]
    assert outcome.states == {0: "SUCCESS", 1: "SUCCESS", skipped: "SKIPPED", 5 - skipped: "SUCCESS",
                              4: "SUCCESS", 5: "SUCCESS", 6: "SUCCESS"}  # fmt: skip
    assert sorted(outcome.entries) == sorted({1, 4, 5, choice[0]})
    # The rule and the sprite start at once, each alone; the snapshot only after its transcode.
    assert runs.batches[:2] == [[1], [4]] and runs.started[4] == 0
    assert runs.started[5] > runs.finished.index(choice[0])


def test_no_rule_holding_skips_every_successor_transitively() -> None:
    dag = _dag()
    outcome = walk_dag(dag, FakeBatches(dag, choice=[]), at_once=2)
    assert [outcome.states[i] for i in range(7)] == [
        "SUCCESS", "SUCCESS", "SKIPPED", "SKIPPED", "SUCCESS", "SKIPPED", "SUCCESS"
    ]  # fmt: skip


def test_a_failed_activity_skips_what_follows_it_and_the_rest_still_runs() -> None:
    dag = _dag()
    outcome = walk_dag(dag, FakeBatches(dag, choice=[2], fail=frozenset({2})), at_once=2)
    assert (outcome.states[2], outcome.states[5], outcome.states[4]) == ("FAIL", "SKIPPED", "SUCCESS")


def test_an_independent_branch_does_not_wait_for_a_slow_one() -> None:
    # input -> 1 -> 2 -> output, input -> 3 (slow) -> output: 2 starts when 1 is done, 3 still running.
    dag = _dag([
        {"ActivityType": "input", "ReardriveIndex": [1, 3]},
        _snapshot([2]), _snapshot([4]), _snapshot([4]),
        {"ActivityType": "output"},
    ])  # fmt: skip
    runs = FakeBatches(dag, choice=[], delay={3: 0.3})
    walk_dag(dag, runs, at_once=3)
    assert runs.batches == [[1], [3], [2]]
    assert runs.started[2] == 1  # only 1 had finished when 2 started
    runs = FakeBatches(dag, choice=[])
    walk_dag(dag, runs, at_once=1)
    assert runs.batches == [[1], [3], [2]]  # one at a time, in index order as they are released


def test_ready_activities_that_share_a_decode_run_as_one_batch() -> None:
    # Two whole-timeline transcodes and a time-point snapshot, all released by the input.
    dag = _dag([
        {"ActivityType": "input", "ReardriveIndex": [1, 2, 3]},
        _trans([4]), _snapshot([4]), _trans([4], 100030),
        {"ActivityType": "output"},
    ])  # fmt: skip
    runs = FakeBatches(dag, choice=[])
    walk_dag(dag, runs, at_once=2)
    assert runs.batches == [[1, 3], [2]]


def test_no_more_than_at_once_batches_run_at_once() -> None:
    fan = [{"ActivityType": "input", "ReardriveIndex": list(range(1, 7))}]
    fan += [_snapshot([7]) for _ in range(6)] + [{"ActivityType": "output"}]
    dag = _dag(fan)
    runs = FakeBatches(dag, choice=[], delay=dict.fromkeys(range(1, 7), 0.02))
    outcome = walk_dag(dag, runs, at_once=2)
    assert runs.most == 2 and all(len(batch) == 1 for batch in runs.batches)
    assert all(outcome.states[i] == "SUCCESS" for i in range(8))


SCHEDULE = [{"ActivityType": "input", "ReardriveIndex": [1]}, _trans([2]), {"ActivityType": "output"}]


@pytest.mark.parametrize(
    "content",
    [
        SCHEDULE,
        {"Activities": SCHEDULE},
        {"ScheduleName": "s", "Trigger": {"Type": "CosFileUpload"}, "Activities": SCHEDULE},
        {"Response": {"TotalCount": 1, "ScheduleInfoSet": [{"ScheduleId": 3, "Activities": SCHEDULE}]}},
    ],
    ids=["list", "object", "create-schedule", "describe-schedules"],
)
def test_a_schedule_file_may_be_the_activities_or_a_schedule_holding_them(
    tmp_path: Path, content: Any
) -> None:
    import json

    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(content))
    activities = _read_schedule(path)
    assert [a.ActivityType for a in activities] == ["input", "action-trans", "output"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{", "schedule file"),
        ({"ScheduleName": "s"}, "has no Activities"),
        ({"ScheduleInfoSet": []}, "holds 0 schedules"),
        ([{"ActivityType": "input", "Bogus": 1}], "Bogus"),
    ],
)
def test_a_bad_schedule_file_is_one_clear_error(tmp_path: Path, content: Any, needle: str) -> None:
    import json

    path = tmp_path / "schedule.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(InvalidParameterError) as caught:
        _read_schedule(path)
    assert needle in caught.value.message
    assert caught.value.err_code == 40000


def test_the_readme_example_schedule_is_a_dag_that_runs() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "schedule.json"
    dag = build_dag(_read_schedule(example))
    outcome = walk_dag(dag, FakeBatches(dag, choice=[3]), at_once=2)
    assert [outcome.states[i] for i in range(7)] == [
        "SUCCESS", "SUCCESS", "SKIPPED", "SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"
    ]  # fmt: skip
