"""A corpus in vmaf-tune's own format, without probe columns: the case of a
user who brings measured rows rather than clips (issue 22, point 6).

    .venv/bin/python tools/standin_corpus.py OUT.jsonl [--set odd|plain] [--dir WORK]

Makes 8 deterministic lavfi sources (320x180, 36-48 frames; ``--set odd``,
the default: not the demo's sources; ``--set plain``: 8 of the demo's),
encodes each with the five software encoders at 6 quality values spread
over the sweep's ladder (the sweep's production settings, real FFmpeg
encodes scored with libvmaf, :func:`vmaf_predictor.runtime.encode.
encode_and_score`), and writes one Phase A schema-v3 row per encode: the
canonical keys a vmaf-tune harness records (``src``, ``src_sha256``, sizes,
frame rate, duration, encoder, quality value, bitrate, VMAF, exit status) and
no probe statistics, so the split gives every row the stand-in features (its
own bitrate for the probe's). 240 encodes: about 4 minutes on 2 idle cores.

``tools/grouped_cv_table.py OUT.jsonl --leave-one-out`` then holds each
source out in turn, builds the model on the other 7 and scores it with
``python -m vmaf_predictor evaluate``'s code on the held-out rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor import config_file  # noqa: E402
from vmaf_predictor.config_file import ladder  # noqa: E402
from vmaf_predictor.runtime import encode  # noqa: E402
from vmaf_predictor.runtime import ffmpeg as ff  # noqa: E402
from vmaf_predictor.runtime.encoders import SOFTWARE_CODECS  # noqa: E402

SIZE = "320x180"
VALUES_PER_CODEC = 6
# Two sets of 8 sources. name: (lavfi graph, frames per second, frames).
# Every random source is seeded, so the clips are the same bytes on every
# run. "odd": sources whose VMAF and bitrate part ways (heavy grain that the
# encoders smooth away, near-static cellular automata, a fast zone plate);
# "plain": the patterns the demo sweeps, at the demo's settings.
SETS = {
    "odd": {
        "testsrc2_slow": (f"testsrc2=s={SIZE}:r=25", 25, 40),
        "mandelbrot_deep": (
            f"mandelbrot=s={SIZE}:r=25:start_scale=1:end_scale=0.02:end_pts=60",
            25,
            36,
        ),
        "perlin_soft": (
            f"perlin=s={SIZE}:r=25:random_mode=seed:seed=3:octaves=2"
            ":persistence=0.4:xscale=1:yscale=1:tscale=0.3",
            25,
            40,
        ),
        "life_dense": (
            "life=s=160x90:r=25:seed=5:ratio=0.5:mold=20:life_color=#E0E040"
            f":death_color=#202060:mold_color=#A03010,scale={SIZE}:flags=neighbor",
            25,
            36,
        ),
        "cellauto_110": (f"cellauto=s={SIZE}:r=25:rule=110:seed=3:ratio=0.3", 25, 36),
        "gradients_grain": (
            f"gradients=s={SIZE}:r=25:c0=0x804020:c1=0x20A0E0:seed=3:speed=0.1"
            ":type=linear,format=yuv420p,noise=alls=20:allf=t+u:all_seed=2",
            25,
            40,
        ),
        "bars_noise": (
            f"smptebars=s={SIZE}:r=25,noise=alls=10:allf=t+u:all_seed=8",
            25,
            36,
        ),
        "zoneplate_fast": (
            f"zoneplate=s={SIZE}:r=25:ku=100:kv=100:kt=20:kx2=2:ky2=2:kt2=6",
            25,
            40,
        ),
    },
    "plain": {
        "testsrc2": (f"testsrc2=s={SIZE}:r=30", 30, 48),
        "mandelbrot": (f"mandelbrot=s={SIZE}:r=24:end_pts=150", 24, 40),
        "perlin": (
            f"perlin=s={SIZE}:r=30:random_mode=seed:seed=7:octaves=4"
            ":persistence=0.6:xscale=2:yscale=2:tscale=0.5",
            30,
            48,
        ),
        "life": (
            "life=s=80x45:r=24:seed=42:ratio=0.3:mold=10:life_color=#C83232"
            f":death_color=#000000:mold_color=#003264,scale={SIZE}:flags=neighbor",
            24,
            40,
        ),
        "cellauto": (f"cellauto=s={SIZE}:r=24:rule=30:seed=42:ratio=0.5", 24, 40),
        "zoneplate": (
            f"zoneplate=s={SIZE}:r=30:ku=64:kv=64:kt=8:kx2=1:ky2=1:kt2=3",
            30,
            48,
        ),
        "bars_grain": (
            f"smptehdbars=s={SIZE}:r=25,noise=alls=6:allf=t:all_seed=3",
            25,
            40,
        ),
        "testsrc": (f"testsrc=s={SIZE}:r=30", 30, 48),
    },
}


def values(config: dict, codec: str) -> list[int]:
    """``VALUES_PER_CODEC`` integer quality values spread evenly from the
    lowest to the highest value of the sweep's ladder of ``codec``."""
    low, high = min(ladder(config, codec)), max(ladder(config, codec))
    steps = VALUES_PER_CODEC - 1
    return [round(low + i * (high - low) / steps) for i in range(steps + 1)]


def make_source(ffmpeg: str, directory: Path, sources: dict, name: str) -> Path:
    """One source as .y4m (kept when present)."""
    graph, _, frames = sources[name]
    out = directory / f"{name}.y4m"
    if not out.exists():
        with tempfile.NamedTemporaryFile(
            dir=directory, prefix=f".{name}.", suffix=".y4m", delete=False
        ) as handle:
            partial = Path(handle.name)
        try:
            args = [*ff.base(ffmpeg), "-y", "-f", "lavfi", "-i", graph]
            args += ["-frames:v", str(frames), "-pix_fmt", "yuv420p"]
            ff.run([*args, *ff.BITEXACT, str(partial)]).check(f"making {name}")
            partial.rename(out)
        finally:
            partial.unlink(missing_ok=True)
    return out


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def encode_row(
    clip: str, name: str, fps: int, frames: int, codec: str, quality: int
) -> dict:
    """One encode, scored, as a vmaf-tune Phase A row without probe columns."""
    from vmaf_predictor.runtime.clip import sweep_settings

    settings = sweep_settings()
    scored = encode.encode_and_score(clip, codec, quality, settings, frames)
    duration = Fraction(frames, fps)
    width, height = (int(v) for v in SIZE.split("x"))
    row = {
        "schema_version": 3,
        "src": name,
        "src_sha256": sha256_file(Path(clip)),
        "width": width,
        "height": height,
        "framerate": float(fps),
        "duration_s": float(duration),
        "encoder": codec,
        "crf": quality,
        "encode_size_bytes": scored.encode_size_bytes,
        "bitrate_kbps": round(
            float(Fraction(scored.encode_size_bytes * 8, 1000) / duration), 3
        ),
        "vmaf_score": scored.vmaf_score,
        "exit_status": scored.exit_status,
    }
    if scored.error:
        row["error"] = scored.error
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the corpus (JSONL) to write")
    parser.add_argument("--dir", type=Path, default=ROOT / "results" / "standin")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--set", choices=sorted(SETS), default="odd")
    args = parser.parse_args(argv)
    sources = SETS[args.set]
    config = config_file.load()
    ffmpeg = ff.locate(config["ffmpeg"]["path"])
    clips = args.dir / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    paths = {name: make_source(ffmpeg, clips, sources, name) for name in sources}
    plan = [
        (str(paths[name]), name, *sources[name][1:], codec, quality)
        for name in sources
        for codec in SOFTWARE_CODECS
        for quality in values(config, codec)
    ]
    with ProcessPoolExecutor(args.cores) as pool:
        rows = list(pool.map(encode_row, *zip(*plan, strict=True)))
    failed = [r for r in rows if r["exit_status"] != 0]
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(args.out)
    print(
        f"{len(rows)} rows ({len(failed)} failed) from {len(sources)} sources x "
        f"{len(SOFTWARE_CODECS)} codecs x {VALUES_PER_CODEC} values into {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
