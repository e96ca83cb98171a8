"""The DAG layout of the console (mps.api.console.dag): layers, no overlapping boxes, every edge."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

import pytest

from mps.api.console.dag import Box, Layout, edges_of, label_of, layers, layout, state_class
from tests.schedules import chain, example, trans


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def _ends(path: str) -> tuple[tuple[float, float], tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def _check(drawn: Layout, activities: list[dict[str, Any]]) -> None:
    """No two boxes overlap, all inside the picture, and every edge starts on its source's box and
    ends on its target's."""
    assert len(drawn.boxes) == len(activities)
    for a, b in combinations(drawn.boxes, 2):
        assert not _overlap(a, b), (a, b)
    for box in drawn.boxes:
        assert 0 <= box.x and box.x + box.width <= drawn.width
        assert 0 <= box.y and box.y + box.height <= drawn.height
    assert {(e.source, e.target, e.failure) for e in drawn.edges} == set(edges_of(activities))
    for edge in drawn.edges:
        (x1, y1), (x2, y2) = _ends(edge.path)
        source, target = drawn.boxes[edge.source], drawn.boxes[edge.target]
        assert source.x <= x1 <= source.x + source.width and source.y <= y1 <= source.y + source.height
        assert target.x <= x2 <= target.x + target.width and target.y <= y2 <= target.y + target.height


def test_the_readme_example_is_layered_by_the_longest_path_from_input() -> None:
    activities = example()
    drawn = layout(activities)

    assert [box.layer for box in drawn.boxes] == [0, 1, 2, 2, 1, 3, 4]
    assert drawn.layers == 5
    assert len(drawn.edges) == 8
    _check(drawn, activities)
    # every edge goes rightwards, so a chain reads left to right
    assert all(drawn.boxes[e.source].x < drawn.boxes[e.target].x for e in drawn.edges)


def test_a_skip_edge_does_not_pull_its_target_left() -> None:
    # 0 -> 1 -> 2 -> 3 and 0 -> 3: 3 is on layer 3 (the longest path), not 1
    activities = chain(trans(), trans())
    activities[0]["ReardriveIndex"] = [1, 3]
    assert layers(4, edges_of(activities)) == [0, 1, 2, 3]


def test_labels_are_index_kind_and_definition() -> None:
    drawn = layout(example())

    assert [box.label for box in drawn.boxes] == [
        "0 input", "1 ExecRules", "2 Transcode 100030", "3 Transcode 100010", "4 ImageSprite 10",
        "5 SnapshotByTimeOffset 10", "6 output",
    ]  # fmt: skip
    task_kinds = layout(example(), {4: "SUCCESS"}, {4: "ImageSprites"})
    assert task_kinds.boxes[4].label == "4 ImageSprites 10"
    assert label_of(12, "x" * 60, "1").endswith("…") and len(label_of(12, "x" * 60, "1")) == 40


def test_failure_edges_are_drawn_apart_from_ordinary_ones() -> None:
    activities = chain(trans(), trans(Definition=100020))
    activities[1]["OnFailureIndex"] = [3]
    activities[1]["ReardriveIndex"] = [2, 3]  # both kinds to 3: two edges
    drawn = layout(activities)

    kinds = sorted((e.source, e.target, e.failure) for e in drawn.edges)
    assert kinds == [(0, 1, False), (1, 2, False), (1, 3, False), (1, 3, True), (2, 3, False)]
    _check(drawn, activities)


@pytest.mark.parametrize(
    ("status", "css"),
    [("SUCCESS", "ran"), ("PROCESSING", "running"), ("SKIPPED", "skipped"), ("FAIL", "failed"),
     ("WAITING", "waiting"), ("PENDING", "waiting"), (None, "plan")],
)  # fmt: skip
def test_states_map_to_classes(status: str | None, css: str) -> None:
    assert state_class(status) == css


def test_a_task_draws_each_state_and_a_schedule_none() -> None:
    statuses = {
        0: "SUCCESS",
        1: "SUCCESS",
        2: "PROCESSING",
        3: "SKIPPED",
        4: "FAIL",
        5: "PENDING",
        6: "PENDING",
    }
    drawn = layout(example(), statuses)
    assert [b.state for b in drawn.boxes] == [
        "ran",
        "ran",
        "running",
        "skipped",
        "failed",
        "waiting",
        "waiting",
    ]
    assert {b.state for b in layout(example()).boxes} == {"plan"}


def test_a_wide_dag_has_no_overlap_and_a_malformed_one_still_draws() -> None:
    fan = [{"ActivityType": "input", "ReardriveIndex": list(range(1, 21))}]
    fan += [{**trans(Definition=100010 + i), "ReardriveIndex": [21]} for i in range(20)]
    fan += [{"ActivityType": "output", "ReardriveIndex": []}]
    _check(layout(fan), fan)

    broken = chain(trans(), trans())
    broken[2]["ReardriveIndex"] = [1, 3, 99, "x"]  # a cycle 1 -> 2 -> 1, an index out of range
    drawn = layout(broken)
    assert len(drawn.boxes) == 4 and (2, 1, False) in {(e.source, e.target, e.failure) for e in drawn.edges}
    for a, b in combinations(drawn.boxes, 2):
        assert not _overlap(a, b)


def test_no_activity_is_an_empty_drawing() -> None:
    drawn = layout([])
    assert drawn.boxes == () and drawn.edges == () and drawn.layers == 0


def test_an_edge_across_layers_runs_beside_the_boxes_it_passes() -> None:
    activities = example()
    activities[4]["OnFailureIndex"] = [6]  # 4 -> 6 twice, across layers 2 and 3
    drawn = layout(activities)
    long = [e for e in drawn.edges if (e.source, e.target) == (4, 6)]
    assert len(long) == 2 and " L" in long[0].path
    for edge in long:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", edge.path)]
        points = list(zip(numbers[::2], numbers[1::2], strict=True))
        # each waypoint's entry and exit: the last point of each C, and each L
        inner = [points[i] for i in range(3, len(points) - 1, 4)] + [
            points[i] for i in range(4, len(points) - 1, 4)
        ]
        assert len(inner) == 4  # two layers crossed, in and out of each
        for x, y in inner:
            for box in drawn.boxes:
                assert not (box.x <= x <= box.x + box.width and box.y <= y <= box.y + box.height), (edge, box)
    _check(drawn, activities)
