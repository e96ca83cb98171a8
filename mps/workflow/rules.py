"""The conditions of an orchestration's rule activity (``action-exec-rules``), over the probed input.

Tencent documents neither the keys nor the operators of ``RuleConditionItem``; ours (orchestration.md
§2, documented in the README as ours) are:

=====================================  =============================================  ===============
Key                                    what                                           Value examples
=====================================  =============================================  ===============
``Width``, ``Height``                  display size after rotation, pixels            ``>=720``
``ShortSide``, ``LongSide``            the smaller and the larger of the two          ``<480``
``Duration``, ``Bitrate``, ``Fps``,    seconds, bits/s, frames/s, bytes               ``>600``
``Size``
``Container``, ``VideoCodec``,         ffprobe names (a container matches any of its  ``=h264``,
``AudioCodec``                         names: ``mov,mp4,m4a...``)                     ``in:mov,mp4``
``HasVideo``, ``HasAudio``             booleans                                       ``=true``
``Rotate``                             degrees, clockwise                             ``=90``
=====================================  =============================================  ===============

Operators: ``=`` (the default when a Value has none), ``!=``, ``>``, ``>=``, ``<``, ``<=`` and
``in:a,b,c``. Numbers compare as numbers, names case-insensitively. ``Linker`` ``&&`` needs every
condition, ``||`` any; a rule with no condition always holds. The first rule that holds, in list
order, chooses its ``RearDriveIndexs``; when none holds, nothing is chosen.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mps.errors import InvalidParameterError
from mps.models import MediaMetaData
from mps.models.schedules import RuleConditionItem, Rules

_NUMERIC: dict[str, Callable[[MediaMetaData], float]] = {
    "Width": lambda m: m.display_width,
    "Height": lambda m: m.display_height,
    "ShortSide": lambda m: min(m.display_width, m.display_height),
    "LongSide": lambda m: max(m.display_width, m.display_height),
    "Duration": lambda m: m.media_duration,
    "Bitrate": lambda m: m.Bitrate,
    "Fps": lambda m: m.fps,
    "Size": lambda m: m.Size,
    "Rotate": lambda m: m.Rotate,
}
_NAMES: dict[str, Callable[[MediaMetaData], set[str]]] = {
    "Container": lambda m: {name.strip().lower() for name in m.Container.split(",") if name.strip()},
    "VideoCodec": lambda m: {m.VideoStreamSet[0].Codec.lower()} if m.VideoStreamSet else set(),
    "AudioCodec": lambda m: {m.AudioStreamSet[0].Codec.lower()} if m.AudioStreamSet else set(),
}
_FLAGS: dict[str, Callable[[MediaMetaData], bool]] = {
    "HasVideo": lambda m: m.has_video,
    "HasAudio": lambda m: m.has_audio,
}
#: Every key a condition may test.
KEYS = frozenset({*_NUMERIC, *_NAMES, *_FLAGS})

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_OPERATOR = re.compile(r"^\s*(in:|!=|>=|<=|=|>|<)?\s*(.*?)\s*$", re.S)


@dataclass(frozen=True)
class Condition:
    """One parsed condition: ``key`` ``op`` ``value``."""

    key: str
    op: str
    value: str

    def holds(self, meta: MediaMetaData) -> bool:
        """Whether the probed input ``meta`` satisfies this condition."""
        if self.key in _NUMERIC:
            return _COMPARE[self.op](float(_NUMERIC[self.key](meta)), float(self.value))
        if self.key in _FLAGS:
            return (
                _FLAGS[self.key](meta) == (self.value.lower() == "true")
                if self.op == "="
                else (_FLAGS[self.key](meta) != (self.value.lower() == "true"))
            )
        names = _NAMES[self.key](meta)
        wanted = (
            {part.strip().lower() for part in self.value.split(",")}
            if self.op == "in:"
            else {self.value.lower()}
        )
        found = bool(names & wanted)
        return not found if self.op == "!=" else found


def parse_condition(item: RuleConditionItem) -> Condition:
    """A condition, checked.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Rules``: an unknown key, an operator the key
            does not take, or a value of the wrong type.
    """
    if item.Key not in KEYS:
        raise _invalid(f"unknown condition Key {item.Key!r}; the keys are {', '.join(sorted(KEYS))}")
    match = _OPERATOR.match(item.Value)
    assert match is not None  # the pattern matches any string
    op, value = match.group(1) or "=", match.group(2)
    if not value:
        raise _invalid(f"condition {item.Key} has no value")
    if item.Key in _NUMERIC:
        if op == "in:":
            raise _invalid(f"{item.Key} is a number: use =, !=, >, >=, < or <=")
        try:
            float(value)
        except ValueError:
            raise _invalid(f"{item.Key} needs a number, not {value!r}") from None
    elif item.Key in _FLAGS:
        if op not in ("=", "!=") or value.lower() not in ("true", "false"):
            raise _invalid(f"{item.Key} is =true, =false, !=true or !=false")
    elif op not in ("=", "!=", "in:"):
        raise _invalid(f"{item.Key} is a name: use =, != or in:")
    return Condition(item.Key, op, value)


def check_rules(rules: Sequence[Rules], successors: Sequence[int], where: str) -> None:
    """Refuse rules that cannot be evaluated, or that choose activities that do not follow theirs.

    Parameters:
        rules: the ``ExecRulesTask.Rules``.
        successors: the rule activity's ``ReardriveIndex``.
        where: names the activity in messages (``activity 2``).

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Rules`` or ``InvalidParameterValue.Activities``.
    """
    if not rules:
        raise _invalid(f"{where}: an action-exec-rules activity needs at least one rule")
    for rule in rules:
        for condition in rule.Conditions:
            try:
                parse_condition(condition)
            except InvalidParameterError as exc:
                raise _invalid(f"{where}, rule {rule.Id or ''}: {exc.message}".replace(" ,", ",")) from None
        stray = sorted(set(rule.RearDriveIndexs) - set(successors))
        if stray:
            raise InvalidParameterError.field(
                "Activities",
                f"{where}: rule {rule.Id or ''} chooses {stray}, which are not its ReardriveIndex",
            )


def choose(rules: Sequence[Rules], meta: MediaMetaData) -> list[int]:
    """The ``RearDriveIndexs`` of the first rule that holds on ``meta``; [] when none does."""
    for rule in rules:
        conditions = [parse_condition(item) for item in rule.Conditions]
        results = [condition.holds(meta) for condition in conditions]
        if not results or (all(results) if rule.Linker == "&&" else any(results)):
            return list(rule.RearDriveIndexs)
    return []


def _invalid(message: str) -> InvalidParameterError:
    return InvalidParameterError.field("Rules", message)


__all__ = ["KEYS", "Condition", "check_rules", "choose", "parse_condition"]
