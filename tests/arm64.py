"""The aarch64 environment of `make test-arm64`: Debian's arm64 CPython 3.11
and the locked aarch64 wheels, run under `qemu-aarch64 -cpu <model>`.

    python tests/arm64.py lock     # envs/requirements-aarch64.txt (`make lock`)
    python tests/arm64.py prepare  # the cached environment (the tier does it)

Nothing is installed on this machine and its apt and dpkg state are not
touched: apt runs with a private state directory and the arm64 architecture
(package lists signed by Debian's archive key, each .deb checked against
them), the packages are unpacked with `dpkg -x` into a sysroot, and the wheels
are installed with `pip install --target` into a site directory. All of it
lives in the cache directory (`$VMAF_PREDICTOR_ARM64_CACHE`, else
`$XDG_CACHE_HOME/vmaf-predictor/arm64`, else `~/.cache/vmaf-predictor/arm64`),
outside the repository, and is re-used when present: the sysroot against the
SHA-256 manifest written when it was unpacked, the site directory against the
lock it was installed from and the SHA-256 of every file its wheels' RECORDs
list.

The lock pins the packages the build stages import (envs/requirements-aarch64.in)
at the versions of envs/requirements.txt (the x86-64 lock), resolved for
cp311 manylinux aarch64. PyPI's aarch64 torch is its CUDA 13.0 build (the CPU
build's index is not used): it imports on a CPU-only machine once its
nvidia-* runtime wheels are beside it, so they are in the lock; triton is
not (only torch.compile imports it).

`import torch` on aarch64 reads /proc/cpuinfo and each CPU's midr_el1 (the
cpuinfo library), and under qemu-user the guest would see the host's x86
files and crash. qemu's `-L` also redirects file opens into the sysroot, so
each CPU model gets its own copy of the sysroot (hard links) with the ARM
files that CPU would show: its MIDR_EL1 and HWCAP bits are read by running
code on the emulated CPU itself, so any qemu CPU name works.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from repro import ROOT, Interpreter

QEMU = "qemu-aarch64"
LOCK_IN = ROOT / "envs" / "requirements-aarch64.in"
LOCK = ROOT / "envs" / "requirements-aarch64.txt"
X86_LOCK = ROOT / "envs" / "requirements.txt"
# Resolved by pip but never imported by the build: left out of the lock.
NOT_IMPORTED = {"triton": "only torch.compile imports it"}
# pip needs every manylinux tag from 2_17 to 2_28: with only two of them it
# misses some of torch's pinned nvidia dependencies.
PLATFORM_TAGS = (
    *(f"manylinux_2_{n}_aarch64" for n in range(17, 29)),
    "manylinux2014_aarch64",
)
PIP_TARGET = (
    "--only-binary=:all:",
    "--python-version", "3.11",
    "--implementation", "cp",
    "--abi", "cp311",
    *(arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)),
)  # fmt: skip
# Debian's arm64 CPython 3.11 and the libraries it and the wheels load
# (bookworm has no libmpdec3; the decimal module is not used).
DEBIAN_PACKAGES = (
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
    "libc6", "libexpat1", "zlib1g", "libffi8", "libssl3", "libgcc-s1",
    "libstdc++6", "libgomp1", "libbz2-1.0", "liblzma5", "libsqlite3-0",
    "libuuid1", "libncursesw6", "libtinfo6", "libcrypt1", "libreadline8",
    "media-types",
)  # fmt: skip
PYTHON = "usr/bin/python3.11"

# Linux's names of the AT_HWCAP and AT_HWCAP2 bits, in bit order, as
# /proc/cpuinfo prints them on arm64 (arch/arm64/kernel/cpuinfo.c).
HWCAP_NAMES = (
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32",
    "atomics", "fphp", "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc",
    "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512", "sve", "asimdfhm",
    "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca", "pacg",
)  # fmt: skip
HWCAP2_NAMES = (
    "dcpodp", "sve2", "sveaes", "svepmull", "svebitperm", "svesha3", "svesm4",
    "flagm2", "frint", "svei8mm", "svef32mm", "svef64mm", "svebf16", "i8mm",
    "bf16", "dgh", "rng", "bti", "mte", "ecv", "afp", "rpres", "mte3", "sme",
    "smei16i64", "smef64f64", "smei8i32", "smef16f32", "smeb16f32", "smef32f32",
    "smefa64", "wfxt",
)  # fmt: skip
# Run on the emulated CPU: its MIDR_EL1 (the mrs instruction, which Linux and
# qemu-user let user space execute) and the HWCAP bits qemu gives it.
CPU_PROBE = """
import ctypes, mmap, struct
libc = ctypes.CDLL(None)
libc.getauxval.restype = ctypes.c_ulong
libc.getauxval.argtypes = [ctypes.c_ulong]
rwx = mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
code = mmap.mmap(-1, mmap.PAGESIZE, prot=rwx)
code.write(struct.pack("<II", 0xD5380000, 0xD65F03C0))  # mrs x0, midr_el1; ret
start = ctypes.addressof(ctypes.c_char.from_buffer(code))
midr = ctypes.CFUNCTYPE(ctypes.c_uint64)(start)()
print(midr, libc.getauxval(16), libc.getauxval(26))
"""


class SetupError(Exception):
    """The aarch64 environment cannot be prepared (the message says why)."""


def cache_dir() -> Path:
    """Where the environment is kept, outside the repository."""
    explicit = os.environ.get("VMAF_PREDICTOR_ARM64_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vmaf-predictor" / "arm64"


def _run(command: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SetupError(f"{what} failed: {' | '.join(tail)}")
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- the lock -----------------------------------------------------------------


def x86_versions() -> dict[str, str]:
    """Package -> public version (no local label such as +cpu) of the x86-64 lock."""
    pins = re.findall(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", X86_LOCK.read_text(), re.M
    )
    return {_normalise(name): version.split("+")[0] for name, version in pins}


def _wheel_name_version(file: str) -> tuple[str, str]:
    name, version = file.split("-")[:2]
    return _normalise(name), version


def write_lock(wheels: Path) -> Path:
    """Resolve envs/requirements-aarch64.in for aarch64 at the x86-64 lock's
    versions, download the wheels into ``wheels`` and write the lock with
    their SHA-256 (atomically). Fails when a package the two locks share
    would get another version."""
    pinned = x86_versions()
    with tempfile.TemporaryDirectory(prefix="vmaf-arm64-lock-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(
            "".join(f"{n}=={v}\n" for n, v in sorted(pinned.items()))
        )
        download = Path(tmp) / "wheels"
        _run(
            [sys.executable, "-m", "pip", "download", "--quiet", *PIP_TARGET,
             "-c", str(constraints), "-r", str(LOCK_IN), "-d", str(download)],
            "pip download of the aarch64 wheels",
        )  # fmt: skip
        entries, total = [], 0
        for file in sorted(download.iterdir(), key=lambda p: p.name.lower()):
            name, version = _wheel_name_version(file.name)
            if name in NOT_IMPORTED:
                continue
            public = version.split("+")[0]
            if name in pinned and pinned[name] != public:
                raise SetupError(
                    f"{file.name}: version {version} differs from {X86_LOCK.name}'s "
                    f"{pinned[name]}"
                )
            size = file.stat().st_size
            total += size
            entries.append(
                f"{name}=={version} \\\n    --hash=sha256:{_sha256(file)}\n"
                f"    # {file.name}, {size} bytes\n"
            )
            wheels.mkdir(parents=True, exist_ok=True)
            shutil.move(str(file), wheels / file.name)
    left_out = ", ".join(f"{n} ({why})" for n, why in NOT_IMPORTED.items())
    header = (
        "# The aarch64 wheels the build imports under `make test-arm64`\n"
        "# (tests/arm64.py).\n"
        "# Generated by `make lock` (python tests/arm64.py lock) from\n"
        f"# envs/{LOCK_IN.name} at the versions of envs/{X86_LOCK.name}, for cp311\n"
        "# manylinux 2_17..2_28 aarch64; do not edit. torch is PyPI's aarch64 build\n"
        "# (CUDA 13.0; importable on a CPU-only machine with its nvidia-* runtime\n"
        f"# wheels). Left out: {left_out}.\n"
        f"# {len(entries)} wheels, {total} bytes ({total / 1e9:.2f} GB) to download.\n"
    )
    _write_atomic(LOCK, header + "".join(entries))
    return LOCK


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str
    file: str
    size: int


def read_lock(lock: Path = LOCK) -> list[Pin]:
    """The lock's wheels (name, version, hash, file name, size)."""
    if not lock.is_file():
        raise SetupError(f"{lock}: missing; `make lock` writes it")
    pattern = (
        r"^(\S+)==(\S+) \\\n    --hash=sha256:([0-9a-f]{64})\n    # (\S+), (\d+) bytes$"
    )
    pins = [
        Pin(name, version, digest, file, int(size))
        for name, version, digest, file, size in re.findall(
            pattern, lock.read_text(), re.M
        )
    ]
    if not pins:
        raise SetupError(f"{lock}: no pinned wheel found; `make lock` rewrites it")
    return pins


# --- the environment ----------------------------------------------------------


def _apt(cache: Path) -> list[str]:
    """apt-get with a private state directory and only the arm64 architecture:
    the machine's package lists, dpkg database and architectures stay as
    they are (no root needed)."""
    state = cache / "apt"
    for sub in ("lists/partial", "archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    options = {
        "APT::Architecture": "arm64",
        "APT::Architectures::": "arm64",
        "Dir::State::Lists": state / "lists",
        "Dir::State::status": state / "status",
        "Dir::Cache": state,
        "Dir::Cache::archives": state / "archives",
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else "",
    }
    command = ["apt-get", "-q"]
    for key, value in options.items():
        if value != "":
            command += ["-o", f"{key}={value}"]
    return command


def prepare_sysroot(cache: Path) -> Path:
    """Debian's arm64 CPython unpacked into ``cache/sysroot``, re-used when its
    manifest lists the same packages and every file's SHA-256 still matches."""
    sysroot, manifest = cache / "sysroot", cache / "sysroot.json"
    if manifest.is_file() and sysroot.is_dir():
        recorded = json.loads(manifest.read_text())
        if recorded["packages"] == list(DEBIAN_PACKAGES):
            bad = [f for f, h in recorded["files"].items() if not _same(sysroot / f, h)]
            if not bad:
                return sysroot
            print(
                f"arm64: {len(bad)} sysroot files changed ({bad[0]}...): "
                "unpacking again"
            )
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SetupError("apt-get and dpkg are needed to fetch Debian's arm64 CPython")
    print("arm64: fetching Debian's arm64 CPython 3.11 (apt-get download, about 11 MB)")
    apt = _apt(cache)
    _run([*apt, "update"], "apt-get update (arm64 lists)")
    debs = Path(tempfile.mkdtemp(prefix=".debs-", dir=cache))
    try:
        _run([*apt, "download", *DEBIAN_PACKAGES], "apt-get download", cwd=debs)
        staging = Path(tempfile.mkdtemp(prefix=".sysroot-", dir=cache))
        versions = {}
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(staging)], f"dpkg -x {deb.name}")
            versions[deb.name] = _sha256(deb)
        files = {
            str(p.relative_to(staging)): _sha256(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }
        shutil.rmtree(sysroot, ignore_errors=True)
        os.replace(staging, sysroot)
        _write_atomic(
            manifest,
            json.dumps({"packages": list(DEBIAN_PACKAGES), "debs": versions,
                        "files": files}, indent=1),
        )  # fmt: skip
    finally:
        shutil.rmtree(debs, ignore_errors=True)
    return sysroot


def _same(path: Path, digest: str) -> bool:
    return path.is_file() and _sha256(path) == digest


def _fetch_wheels(cache: Path, pins: list[Pin]) -> Path:
    """The lock's wheels in ``cache/wheels``, each checked against its hash
    (pip downloads the missing ones with --require-hashes)."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not _same(wheels / p.file, p.sha256)]
    if missing:
        size = sum(p.size for p in missing)
        print(f"arm64: downloading {len(missing)} wheels, {size / 1e9:.2f} GB")
        with tempfile.TemporaryDirectory(prefix="vmaf-arm64-") as tmp:
            subset = Path(tmp) / "missing.txt"
            subset.write_text(
                "".join(
                    f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in missing
                )
            )
            _run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--require-hashes", *PIP_TARGET, "-r", str(subset), "-d", str(wheels)],
                "pip download of the locked aarch64 wheels",
            )  # fmt: skip
        still = [p.file for p in missing if not _same(wheels / p.file, p.sha256)]
        if still:
            raise SetupError(
                f"{still[0]}: not downloaded or its hash differs from {LOCK}"
            )
    return wheels


def _site_intact(site: Path, lock_digest: str) -> bool:
    """The site directory was installed from this lock and no file its wheels
    installed has changed (their RECORDs' SHA-256)."""
    stamp = site / ".installed-from"
    if not stamp.is_file() or stamp.read_text().strip() != lock_digest:
        return False
    for record in site.glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path, _, rest = line.partition(",")
            algorithm, _, encoded = rest.partition(",")[0].partition("=")
            if algorithm != "sha256" or path.startswith("../"):
                # RECORD itself and the .pyc files carry no hash; scripts
                # (../../bin) lie outside the site and the build runs none.
                continue
            expected = base64.urlsafe_b64decode(
                encoded + "=" * (-len(encoded) % 4)
            ).hex()
            if not _same(site / path, expected):
                print(f"arm64: {path} changed since it was installed: reinstalling")
                return False
    return True


def prepare_site(cache: Path) -> Path:
    """The locked wheels installed into ``cache/site`` (re-used when intact)."""
    site = cache / "site"
    lock_digest = _sha256(LOCK)
    if _site_intact(site, lock_digest):
        return site
    pins = read_lock()
    wheels = _fetch_wheels(cache, pins)
    print(f"arm64: installing {len(pins)} wheels into {site}")
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=cache))
    try:
        _run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-index", "--find-links", str(wheels), "--require-hashes",
             "--target", str(staging), *PIP_TARGET, "-r", str(LOCK)],
            "pip install --target of the aarch64 wheels",
        )  # fmt: skip
        (staging / ".installed-from").write_text(lock_digest + "\n")
        shutil.rmtree(site, ignore_errors=True)
        os.replace(staging, site)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return site


def prepare(cpu: str, cache: Path | None = None) -> Interpreter:
    """Python under ``qemu-aarch64 -cpu <cpu>`` with the locked packages: the
    whole environment, each part re-used when present and intact (the CPU
    model is checked first, before the long hash checks)."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.which(QEMU) is None:
        raise SetupError(f"{QEMU} is missing: run `make qemu-user` (needs root)")
    sysroot = cpu_sysroot(prepare_sysroot(cache), cache, cpu)
    site = prepare_site(cache)
    return Interpreter(
        argv=(QEMU, "-cpu", cpu, "-L", str(sysroot), str(sysroot / PYTHON)),
        env={
            "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
            "PYTHONNOUSERSITE": "1",
            # The verified site directory stays as installed.
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )


# --- one CPU model ------------------------------------------------------------


def cpu_files(midr: int, hwcap: int, hwcap2: int, cpus: int) -> dict[str, str]:
    """The /proc/cpuinfo and midr_el1 files Linux would show for ``cpus``
    CPUs of this MIDR_EL1 and these HWCAP bits (paths relative to /)."""
    features = [n for i, n in enumerate(HWCAP_NAMES) if hwcap >> i & 1]
    features += [n for i, n in enumerate(HWCAP2_NAMES) if hwcap2 >> i & 1]
    block = (
        "BogoMIPS\t: 50.00\n"
        f"Features\t: {' '.join(features)}\n"
        f"CPU implementer\t: 0x{midr >> 24 & 0xFF:02x}\n"
        "CPU architecture: 8\n"
        f"CPU variant\t: 0x{midr >> 20 & 0xF:x}\n"
        f"CPU part\t: 0x{midr >> 4 & 0xFFF:03x}\n"
        f"CPU revision\t: {midr & 0xF}\n\n"
    )
    files = {"proc/cpuinfo": "".join(f"processor\t: {i}\n{block}" for i in range(cpus))}
    span = "0" if cpus == 1 else f"0-{cpus - 1}"
    for name in ("possible", "present", "online"):
        files[f"sys/devices/system/cpu/{name}"] = span + "\n"
    for i in range(cpus):
        files[f"sys/devices/system/cpu/cpu{i}/regs/identification/midr_el1"] = (
            f"0x{midr:016x}\n"
        )
    return files


def cpu_sysroot(sysroot: Path, cache: Path, cpu: str) -> Path:
    """A copy of ``sysroot`` (hard links) with the ARM CPU files of ``cpu``,
    read from the emulated CPU itself. Fails with one line for a CPU model
    qemu-aarch64 does not know."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.,=+-]*", cpu):
        raise SetupError(f"ARM_CPU={cpu!r}: not a qemu CPU model name")
    probe = subprocess.run(
        [QEMU, "-cpu", cpu, "-L", str(sysroot), str(sysroot / PYTHON), "-c", CPU_PROBE],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
    )
    if probe.returncode != 0:
        help_text = subprocess.run(
            [QEMU, "-cpu", "help"], capture_output=True, text=True
        )
        names = " ".join(line.strip() for line in help_text.stdout.splitlines()[1:])
        reason = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"ARM_CPU={cpu}: {reason} (qemu-aarch64 knows: {names})")
    midr, hwcap, hwcap2 = (int(x) for x in probe.stdout.split())
    target = cache / "cpu" / re.sub(r"[^A-Za-z0-9_.-]", "_", cpu)
    staging = Path(tempfile.mkdtemp(prefix=".cpu-", dir=cache))
    try:
        shutil.copytree(
            sysroot, staging, symlinks=True, copy_function=os.link, dirs_exist_ok=True
        )
        cpus = os.cpu_count() or 1
        for relative, text in cpu_files(midr, hwcap, hwcap2, cpus).items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(exist_ok=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lock", help=f"write {LOCK.relative_to(ROOT)}")
    ready = sub.add_parser("prepare", help="fetch, unpack and check the environment")
    ready.add_argument("--cpu", default="neoverse-n1", help="a qemu-aarch64 CPU model")
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            lock = write_lock(cache_dir() / "wheels")
            print(f"wrote {lock.relative_to(ROOT)}: {len(read_lock())} wheels")
        else:
            print(" ".join(prepare(args.cpu).argv))
    except SetupError as error:
        sys.exit(f"arm64: {error}")


if __name__ == "__main__":
    main()
