"""Per-(route, sensor) trackers, bounded in number and reset when a sensor goes idle.

State per sensor is small (a few tracks and the last published counts), but
sensor ids come from topics, so the number of trackers is capped: the least
recently seen one is dropped beyond ``max_sensors`` and its retained counts are
cleared (its objects end silently: an event can only go to the sensor of the
message being answered). A sensor silent for ``idle_reset_s`` starts over on
its next frame: its objects end first (reason ``idle``), then the frame is tracked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge_agent.pipelines.objects.tracker import Observation, SensorTracker, TrackEvent

__all__ = ["StepOutcome", "Streams"]


@dataclass(slots=True)
class StepOutcome:
    """What one frame produced.

    Attributes:
        events: Events for the frame's sensor, in order.
        ids: Object id per observation.
        states: Retained count paths (below the device) and values; None clears.
    """

    events: list[TrackEvent] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    states: dict[str, int | None] = field(default_factory=dict)


class Streams:
    """All trackers of one pipeline (owned by its worker thread).

    Args:
        max_sensors: Trackers kept at once.
        idle_reset_s: Silence after which a sensor starts over.
        match_iou: Passed to each :class:`SensorTracker`.
        score_gain: Passed to each :class:`SensorTracker`.
    """

    def __init__(
        self, *, max_sensors: int, idle_reset_s: float, match_iou: float, score_gain: float
    ) -> None:
        self.max_sensors = max_sensors
        self.idle_reset_s = idle_reset_s
        self.match_iou = match_iou
        self.score_gain = score_gain
        self._trackers: OrderedDict[tuple[str, str], SensorTracker] = OrderedDict()

    def __len__(self) -> int:
        return len(self._trackers)

    def _tracker(self, key: tuple[str, str], out: StepOutcome) -> SensorTracker:
        tracker = self._trackers.get(key)
        if tracker is not None:
            self._trackers.move_to_end(key)
            return tracker
        while len(self._trackers) >= self.max_sensors:
            (_route, sensor), old = self._trackers.popitem(last=False)
            for path, value in old.published.items():
                if value:
                    out.states[f"counts/{sensor}/{path}"] = None
        tracker = SensorTracker(match_iou=self.match_iou, score_gain=self.score_gain)
        self._trackers[key] = tracker
        return tracker

    def step(
        self,
        route: str,
        sensor: str,
        observations: Sequence[Observation],
        now: float,
        max_missed: int,
    ) -> StepOutcome:
        """Track one frame of ``sensor`` on ``route``."""
        out = StepOutcome()
        tracker = self._tracker((route, sensor), out)
        if tracker.last_step is not None and now - tracker.last_step > self.idle_reset_s:
            out.events += tracker.end_all("idle")
        events, out.ids = tracker.step(observations, now, max_missed)
        out.events += events
        for path, value in tracker.count_changes().items():
            out.states[f"counts/{sensor}/{path}"] = value
        return out

    def forget(self, sensor: str) -> None:
        """Drop every tracker of ``sensor`` (its stream was reset)."""
        for key in [k for k in self._trackers if k[1] == sensor]:
            del self._trackers[key]
