"""A clip into shots: where its scene cuts are, and long takes cut to a
maximum length.

The harness picks a quality value per shot, and the sweep's rows, one source
each, are shots. A clip with cuts (a trailer, a street scene) is several
sources; a long static take (a fixed camera over pedestrians) is cut into
pieces of at most ``max_frames`` so that one source never dominates the
corpus and every source's probe window covers it.

Scene cuts come from FFmpeg's ``scdet`` filter: for each decoded frame, a
score in 0-100 of how much it differs from the one before (the mean
absolute frame difference, less the difference of the previous pair, so a
steady pan scores low). A cut is a frame scoring at least ``threshold``
(config ``shots.threshold``; 10 is FFmpeg's default). Measured on the
footage ``make footage`` fetches: every hard cut scores 10.7-27 (bikes.mp4's
five, cityCC0.mpg's one), everything else at most 7.5 (a jump in
cube.mpeg), and camera noise, pans and talking heads below 3.
(``select``'s scene score orders these frames the same way, 0.27-0.69
against at most 0.19: no better, so the project uses the one filter made
for it.)

Then, deterministically (:func:`split`): cuts are taken strongest first,
each only when it leaves at least ``min_frames`` frames on both sides of
every cut taken and of the clip's ends (a flash or a fast zone plate is not
a shot of one frame); a shot longer than ``max_frames`` is cut into the
fewest pieces of at most ``max_frames``, of equal length to a frame.
"""

from __future__ import annotations

import itertools
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vmaf_predictor.names import shot_name
from vmaf_predictor.runtime import ffmpeg as ff
from vmaf_predictor.runtime import reference

CUT, LENGTH, START = "cut", "length", "start"  # why a shot starts where it does


@dataclass(frozen=True)
class ShotSettings:
    """How a clip is cut (config ``shots``)."""

    threshold: float  # scdet score (0-100) of a cut
    min_frames: int  # no shot shorter (but a clip shorter than this is one)
    max_frames: int  # longer takes are cut into equal pieces

    def __post_init__(self) -> None:
        if self.min_frames < 1 or self.max_frames < 2 * self.min_frames:
            raise ValueError(
                f"shots: max_frames ({self.max_frames}) must be at least twice "
                f"min_frames ({self.min_frames}), which must be at least 1"
            )


@dataclass(frozen=True)
class Shot:
    """Frames ``start`` .. ``start + frames - 1`` of a clip (decode order)."""

    start: int
    frames: int
    starts_at: str  # START (the clip's first frame), CUT or LENGTH


_FRAME = re.compile(r"^frame:(\d+)\s")
_SCORE = re.compile(r"^lavfi\.scd\.score=(\S+)")


def scene_scores(ffmpeg: str, path: str | Path) -> list[float]:
    """scdet's score of every decoded frame of the first video stream, in
    decode order (frame 0 has no predecessor: 0.0)."""
    with tempfile.TemporaryDirectory(prefix="vmaf-scenes-") as tmp:
        listing = Path(tmp) / "scores.txt"
        graph = (
            "scdet=threshold=100:sc_pass=0,metadata=mode=print:"
            f"file={ff.escape_filter_value(str(listing))}"
        )
        args = [*ff.base(ffmpeg), "-i", str(path), "-map", "0:v:0", "-vf", graph]
        ff.run([*args, "-f", "null", "-"]).check(f"scene scores of {path}")
        text = listing.read_text(encoding="utf-8") if listing.is_file() else ""
    scores: dict[int, float] = {}
    frame = None
    for line in text.splitlines():
        if match := _FRAME.match(line):
            frame = int(match.group(1))
            scores.setdefault(frame, 0.0)
        elif (match := _SCORE.match(line)) and frame is not None:
            scores[frame] = float(match.group(1))
    if not scores:
        return []
    return [scores.get(i, 0.0) for i in range(max(scores) + 1)]


def split(scores: list[float], settings: ShotSettings) -> list[Shot]:
    """The shots of a clip of ``len(scores)`` frames (see the module)."""
    total = len(scores)
    if total == 0:
        return []
    candidates = sorted(
        (i for i in range(1, total) if scores[i] >= settings.threshold),
        key=lambda i: (-scores[i], i),
    )
    cuts = [0, total]
    for frame in candidates:
        if all(abs(frame - c) >= settings.min_frames for c in cuts):
            cuts.append(frame)
    cuts.sort()
    shots = []
    for start, end in itertools.pairwise(cuts):
        pieces = math.ceil((end - start) / settings.max_frames)
        for k in range(pieces):
            a = start + (end - start) * k // pieces
            b = start + (end - start) * (k + 1) // pieces
            why = START if a == 0 else (CUT if k == 0 else LENGTH)
            shots.append(Shot(a, b - a, why))
    return shots


def find_shots(
    ffmpeg: str, path: str | Path, settings: ShotSettings
) -> tuple[list[Shot], list[float]]:
    """The clip's shots, and the scene scores they were cut by."""
    scores = scene_scores(ffmpeg, path)
    return split(scores, settings), scores


@dataclass(frozen=True)
class Source:
    """A shot as a sweep source: its name (``src``), its frames, and whether
    it is swept from a reference of its own or from the clip file itself
    (a clip that is one shot and already clean)."""

    src: str
    shot: Shot
    own_reference: bool


def sources(clip: str, timing: reference.Timing, found: list[Shot]) -> list[Source]:
    """The sources of a clip named ``clip`` cut into ``found`` shots: the one
    convention the sweep and the runtime share."""
    whole = len(found) == 1 and timing.clean
    return [
        Source(shot_name(clip, i, len(found)), shot, not whole)
        for i, shot in enumerate(found)
    ]


def write_shots(
    ffmpeg: str,
    clip: str | Path,
    directory: str | Path,
    settings: ShotSettings,
    name: str | None = None,
) -> list[tuple[Source, Path]]:
    """A clip cut into shots as the sweep cuts it, each shot's file: its
    clean reference ``<directory>/<src>.y4m``, or the clip itself when it
    is one clean shot. For the runtime and tools (the demo's held-out
    clips): the sweep itself runs the same steps as two rules."""
    clip = Path(clip)
    timing = reference.inspect(ffmpeg, clip)
    found, _ = find_shots(ffmpeg, clip, settings)
    out = []
    for source in sources(name or clip.stem, timing, found):
        path = clip
        if source.own_reference:
            path = Path(directory) / f"{source.src}.y4m"
            reference.write_reference(
                ffmpeg, clip, path, start=source.shot.start,
                frames=source.shot.frames, timing=timing,
            )  # fmt: skip
        out.append((source, path))
    return out
