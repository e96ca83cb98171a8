"""Schedules shared by the tests: the README's worked example and the DAG shapes a server refuses."""

from __future__ import annotations

import copy
from typing import Any

TRIGGER: dict[str, Any] = {
    "Type": "CosFileUpload",
    "CosFileUploadTrigger": {"Bucket": "media", "Region": "ap-guangzhou", "Dir": "/in/", "Formats": ["mp4"]},
}

#: The README's example: input -> a rule on the height choosing the 720p (2) or the 360p (3)
#: transcode, a parallel sprite (4), a snapshot (5) after whichever transcode ran, all joining at
#: output (6).
_RULES: list[dict[str, Any]] = [
    {"Id": "hd", "Conditions": [{"Key": "Height", "Value": ">=720"}], "Linker": "&&", "RearDriveIndexs": [2]},
    {"Id": "sd", "Conditions": [{"Key": "Height", "Value": "<720"}], "Linker": "&&", "RearDriveIndexs": [3]},
]
EXAMPLE: list[dict[str, Any]] = [
    {"ActivityType": "input", "ReardriveIndex": [1, 4]},
    {"ActivityType": "action-exec-rules", "ReardriveIndex": [2, 3],
     "ActivityPara": {"ExecRulesTask": {"Rules": _RULES}}},
    {"ActivityType": "action-trans", "ReardriveIndex": [5],
     "ActivityPara": {"TranscodeTask": {"Definition": 100030}}},
    {"ActivityType": "action-trans", "ReardriveIndex": [5],
     "ActivityPara": {"TranscodeTask": {"Definition": 100010}}},
    {"ActivityType": "action-image-sprite", "ReardriveIndex": [6],
     "ActivityPara": {"ImageSpriteTask": {"Definition": 10}}},
    {"ActivityType": "action-snapshotByTimeOffset", "ReardriveIndex": [6],
     "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [1.0]}}},
    {"ActivityType": "output", "ReardriveIndex": []},
]  # fmt: skip
#: The PredriveIndex the server computes for :data:`EXAMPLE`.
EXAMPLE_PREDRIVE = [[], [0], [1], [1], [0], [2, 3], [4, 5]]

#: Rules choosing activity 0, which does not follow their activity.
_NOT_NEXT: dict[str, Any] = {
    "Rules": [{"Conditions": [{"Key": "Height", "Value": ">=720"}], "RearDriveIndexs": [0]}]
}


def example() -> list[dict[str, Any]]:
    """A fresh copy of :data:`EXAMPLE`."""
    return copy.deepcopy(EXAMPLE)


def chain(*middle: dict[str, Any]) -> list[dict[str, Any]]:
    """input -> each of ``middle`` in order -> output (``ReardriveIndex`` filled in)."""
    nodes = [{"ActivityType": "input"}, *copy.deepcopy(list(middle)), {"ActivityType": "output"}]
    for index, node in enumerate(nodes[:-1]):
        node.setdefault("ReardriveIndex", [index + 1])
    nodes[-1]["ReardriveIndex"] = []
    return nodes


def trans(**para: Any) -> dict[str, Any]:
    """An ``action-trans`` activity (360p preset unless ``para`` says otherwise)."""
    return {"ActivityType": "action-trans", "ActivityPara": {"TranscodeTask": {"Definition": 100010, **para}}}


def _with(activities: list[dict[str, Any]], index: int, **fields: Any) -> list[dict[str, Any]]:
    activities[index].update(fields)
    return activities


#: name -> (Activities, the wire code, a piece of the message): every DAG a server must refuse.
REFUSED: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    "cycle": (
        _with(chain(trans(), trans()), 2, ReardriveIndex=[1, 3]),
        "InvalidParameterValue.Activities",
        "cycle",
    ),
    "dangling index": (
        _with(chain(trans()), 1, ReardriveIndex=[9]),
        "InvalidParameterValue.Activities",
        "activity 1",
    ),
    "no output": (
        [{"ActivityType": "input", "ReardriveIndex": [1]}, {**trans(), "ReardriveIndex": []}],
        "InvalidParameterValue.Activities",
        "no output",
    ),
    "unreachable activity": (
        chain(trans()) + [{**trans(), "ReardriveIndex": [2]}],
        "InvalidParameterValue.Activities",
        "activity 3",
    ),
    "activity not reaching output": (
        _with(chain(trans(), trans()), 0, ReardriveIndex=[1, 2])[:1]
        + [{**trans(), "ReardriveIndex": []}, {**trans(), "ReardriveIndex": [3]}, {"ActivityType": "output"}],
        "InvalidParameterValue.Activities",
        "activity 1",
    ),
    "wrong ActivityPara member": (
        chain({"ActivityType": "action-trans", "ActivityPara": {"ImageSpriteTask": {"Definition": 10}}}),
        "InvalidParameterValue.Activities",
        "activity 1",
    ),
    "AI activity": (
        chain({"ActivityType": "action-AIAnalysis", "ActivityPara": {}}),
        "UnsupportedOperation",
        "activity 1",
    ),
    "more than 50 activities": (
        chain(*[trans() for _ in range(49)]),
        "InvalidParameterValue.Activities",
        "",
    ),
    "rule choosing a non-successor": (
        chain({"ActivityType": "action-exec-rules", "ActivityPara": {"ExecRulesTask": _NOT_NEXT}}),
        "InvalidParameterValue.Activities",
        "activity 1",
    ),
}  # fmt: skip
