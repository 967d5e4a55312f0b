"""Objects across frames of one sensor: stable ids, new/update/end events, counts.

A :class:`SensorTracker` matches each frame's detections to the objects of the
previous frames by box overlap (IoU, same label, best pairs first). A detection
that continues no object starts one (``new``); an object missing from more than
``max_missed`` consecutive frames ends (``end``, reason ``lost``). ``update`` is
published only for what a user acts on: the object entered or left a zone, or
its top score rose by at least ``score_gain`` since the last event about it.
Counts (objects per label, and per zone and label) include objects that are
missing for at most ``max_missed`` frames, so one missed detection does not make
a count flicker.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.pipelines.objects.decode import iou

__all__ = ["Observation", "SensorTracker", "Track", "TrackEvent", "iso_time"]

Box = tuple[float, float, float, float]


def iso_time(ts: float) -> str:
    """UTC ISO 8601 with milliseconds, as the result documents carry."""
    whole, millis = divmod(round(ts * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection of a frame, ready for tracking.

    Attributes:
        label: Class name.
        box: Normalised ``[x_min, y_min, x_max, y_max]``.
        score: Detection score.
        zones: Zones holding the box's bottom centre.
    """

    label: str
    box: Box
    score: float
    zones: tuple[str, ...] = ()


@dataclass(slots=True)
class Track:
    """One object followed across frames."""

    id: str
    label: str
    box: Box
    score: float
    top_score: float
    zones: tuple[str, ...]
    first_seen: float
    last_seen: float
    entered: list[str] = field(default_factory=list)
    frames: int = 1
    missed: int = 0
    reported_top: float = 0.0

    def data(self) -> dict[str, Any]:
        """The event fields describing this object."""
        return {
            "id": self.id,
            "label": self.label,
            "score": round(self.score, 4),
            "top_score": round(self.top_score, 4),
            "box": [round(v, 5) for v in self.box],
            "zones": list(self.zones),
            "entered_zones": list(self.entered),
            "first_seen": iso_time(self.first_seen),
            "last_seen": iso_time(self.last_seen),
            "frames": self.frames,
        }


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """An event about one object: ``new``, ``update`` or ``end``."""

    kind: str
    data: dict[str, Any]


def _pairs(
    tracks: Sequence[Track], obs: Sequence[Observation], min_iou: float
) -> list[tuple[int, int]]:
    """Greedy (track, observation) pairs of the same label by decreasing IoU >= ``min_iou``."""
    if not tracks or not obs:
        return []
    boxes = np.asarray([o.box for o in obs], np.float32)
    table = np.stack([iou(np.asarray(t.box, np.float32), boxes) for t in tracks])
    labels = np.asarray([o.label for o in obs])
    for i, t in enumerate(tracks):
        table[i, labels != t.label] = -1.0
    pairs: list[tuple[int, int]] = []
    while table.size:
        flat = int(np.argmax(table))
        i, j = divmod(flat, table.shape[1])
        if table[i, j] < min_iou:
            break
        pairs.append((i, j))
        table[i, :] = -1.0
        table[:, j] = -1.0
    return pairs


class SensorTracker:
    """The objects of one (route, sensor) stream.

    Args:
        match_iou: Overlap above which a detection continues an object.
        score_gain: Top-score rise that warrants an ``update``.
    """

    __slots__ = ("_next", "last_step", "match_iou", "published", "score_gain", "tracks")

    def __init__(self, *, match_iou: float, score_gain: float) -> None:
        self.match_iou = match_iou
        self.score_gain = score_gain
        self.tracks: list[Track] = []
        self.published: dict[str, int] = {}
        self.last_step: float | None = None
        self._next = 0

    def _start(self, o: Observation, now: float) -> Track:
        self._next += 1
        return Track(
            id=f"{int(now * 1000):x}-{self._next}",
            label=o.label,
            box=o.box,
            score=o.score,
            top_score=o.score,
            zones=o.zones,
            first_seen=now,
            last_seen=now,
            entered=list(o.zones),
            reported_top=o.score,
        )

    def _continue(self, t: Track, o: Observation, now: float) -> TrackEvent | None:
        changes = [f"entered:{z}" for z in o.zones if z not in t.zones]
        changes += [f"left:{z}" for z in t.zones if z not in o.zones]
        t.entered += [z for z in o.zones if z not in t.entered]
        t.box, t.score, t.zones, t.last_seen = o.box, o.score, o.zones, now
        t.top_score = max(t.top_score, o.score)
        t.frames += 1
        t.missed = 0
        if t.top_score >= t.reported_top + self.score_gain:
            changes.append("top_score")
        if not changes:
            return None
        t.reported_top = t.top_score
        return TrackEvent("update", {**t.data(), "changes": changes})

    def step(
        self, observations: Sequence[Observation], now: float, max_missed: int
    ) -> tuple[list[TrackEvent], list[str]]:
        """Take one frame's observations.

        Args:
            observations: This frame's detections.
            now: Wall-clock time of the frame (seconds).
            max_missed: Frames an object may be missing before it ends.

        Returns:
            The events, and the object id of each observation (same order).
        """
        self.last_step = now
        pairs = _pairs(self.tracks, observations, self.match_iou)
        matched_tracks = {i for i, _ in pairs}
        ids: list[str] = [""] * len(observations)
        events: list[TrackEvent] = []
        for i, j in pairs:
            track = self.tracks[i]
            ids[j] = track.id
            event = self._continue(track, observations[j], now)
            if event is not None:
                events.append(event)
        kept: list[Track] = []
        for i, track in enumerate(self.tracks):
            if i not in matched_tracks:
                track.missed += 1
                if track.missed > max_missed:
                    events.append(TrackEvent("end", {**track.data(), "reason": "lost"}))
                    continue
            kept.append(track)
        matched_obs = {j for _, j in pairs}
        for j, o in enumerate(observations):
            if j not in matched_obs:
                track = self._start(o, now)
                kept.append(track)
                ids[j] = track.id
                events.append(TrackEvent("new", track.data()))
        self.tracks = kept
        return events, ids

    def end_all(self, reason: str) -> list[TrackEvent]:
        """End every object (the sensor went idle or was reset)."""
        events = [TrackEvent("end", {**t.data(), "reason": reason}) for t in self.tracks]
        self.tracks = []
        return events

    def counts(self) -> dict[str, int]:
        """Current objects per ``<label>`` and per ``<zone>/<label>`` (labels topic-safe)."""
        out: dict[str, int] = {}
        for t in self.tracks:
            label = t.label.replace(" ", "_")
            out[label] = out.get(label, 0) + 1
            for zone in t.zones:
                key = f"{zone}/{label}"
                out[key] = out.get(key, 0) + 1
        return out

    def count_changes(self) -> dict[str, int]:
        """Counts that differ from the last ones published (zeros for those that went away).

        Marks them published: the caller publishes every returned value.
        """
        now = self.counts()
        changed = {k: v for k, v in now.items() if self.published.get(k) != v}
        changed.update({k: 0 for k, v in self.published.items() if v and k not in now})
        self.published.update(changed)
        return changed
