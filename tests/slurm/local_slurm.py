"""A one-node Slurm on loopback, from Debian's packages (`make test-slurm`).

Slurm 22.05 (Debian 12) without an accounting database: munged, slurmctld
and slurmd, each started here in the foreground as a child process and
stopped by its PID. Their keys, sockets, state, spool, logs and PID files
live in one temporary state directory, removed on stop.

One file lives outside it: /etc/slurm/slurm.conf. Inside every job the
plugin's job step (snakemake-executor-plugin-slurm-jobstep) starts `srun`
with all SLURM_* variables but a few removed, SLURM_CONF included, so that
srun finds the cluster only through the default path. The file is written
only when it is absent (or left over from this tier), and removed on stop.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
COMMANDS = ("munged", "mungekey", "munge", "slurmctld", "slurmd", "sbatch", "squeue")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# Written by tests/slurm (make test-slurm); removed when the tier stops."


class SlurmError(RuntimeError):
    """The cluster could not be brought up or stopped cleanly."""


def install_packages() -> None:
    """Debian's packages, when a command is missing (needs root)."""
    if all(shutil.which(c) for c in COMMANDS):
        return
    if os.geteuid() != 0:
        raise SlurmError(
            "the Slurm tier needs root to install "
            + " ".join(PACKAGES)
            + " (apt-get install --no-install-recommends), and to run slurmd"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def client_env() -> dict[str, str]:
    """This environment, without anything pointing at another cluster or job."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _this_node() -> dict[str, str]:
    """CPUs, topology and memory of this machine, as slurmd sees them."""
    line = subprocess.run(
        ["slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    return dict(field.split("=", 1) for field in line.split())


class LocalSlurm:
    """munged, slurmctld and slurmd for one node at 127.0.0.1."""

    def __init__(self) -> None:
        self.state: Path | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.wrote_conf = False
        self.node = ""
        self.socket: Path | None = None

    # -- bring-up ---------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        install_packages()
        if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
            raise SlurmError(
                f"{SLURM_CONF} exists and was not written by this tier: this "
                "machine has a Slurm of its own; the tier will not overwrite it"
            )
        # Readable by the munge user (pytest's own temporary dirs are 0700).
        self.state = Path(tempfile.mkdtemp(prefix="vmaf-slurm-"))
        self.state.chmod(0o755)
        self._start_munged()
        node = _this_node()
        self.node = node["NodeName"]
        self._write_conf(node)
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(SLURM_CONF)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(SLURM_CONF), "-N", self.node])
        self._wait_until_idle(timeout)

    def _spawn(self, name: str, command: list[str], **kwargs) -> None:
        """Start a daemon in the foreground; its output goes to <name>.out."""
        with open(self.state / f"{name}.out", "wb") as log:
            self.processes[name] = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=client_env(),
                # Its own session: a Ctrl-C of the tier stops it through stop().
                start_new_session=True,
                **kwargs,
            )

    def _start_munged(self) -> None:
        """munged as the munge user, with its own key and socket."""
        munge = self.state / "munge"
        munge.mkdir(mode=0o755)
        shutil.chown(munge, "munge", "munge")
        as_munge = {"user": "munge", "group": "munge", "extra_groups": []}
        subprocess.run(
            ["mungekey", "--create", f"--keyfile={munge / 'munge.key'}"],
            check=True,
            **as_munge,
        )
        self.socket = munge / "munge.socket"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={self.socket}",
                f"--key-file={munge / 'munge.key'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
            **as_munge,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["munge", "--no-input", f"--socket={self.socket}"],
                capture_output=True,
            )
            if probe.returncode == 0:
                return
            self._check_running()
            time.sleep(0.2)
        raise SlurmError("munged did not answer on its socket\n" + self.logs())

    def _write_conf(self, node: dict[str, str]) -> None:
        state = self.state
        topology = " ".join(
            f"{key}={node[key]}"
            for key in (
                "CPUs",
                "Boards",
                "SocketsPerBoard",
                "CoresPerSocket",
                "ThreadsPerCore",
                "RealMemory",
            )
        )
        conf = f"""{MARKER}
# One node on loopback, no accounting database (state: {state}).
ClusterName=vmaftest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={state / "slurmctld"}
SlurmdSpoolDir={state / "slurmd"}
SlurmctldPidFile={state / "slurmctld.pid"}
SlurmdPidFile={state / "slurmd.pid"}
SlurmctldLogFile={state / "slurmctld.log"}
SlurmdLogFile={state / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# Finished jobs stay visible to squeue and scontrol for a day: the plugin's
# status checks (squeue) and the tier's checks (scontrol) read them there.
MinJobAge=86400
NodeName={self.node} NodeAddr=127.0.0.1 {topology} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(conf)
        self.wrote_conf = True

    def _check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SlurmError(
                    f"{name} exited with {process.returncode}\n" + self.logs()
                )

    def _wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            self._check_running()
            result = self.run(["sinfo", "--noheader", "--Node", "--format=%T"])
            state = result.stdout.strip()
            if result.returncode == 0 and state == "idle":
                return
            time.sleep(0.5)
        raise SlurmError(f"node not idle after {timeout} s ({state})\n" + self.logs())

    # -- use --------------------------------------------------------------

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, env=client_env())

    def show_job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (jobs stay for MinJobAge)."""
        result = self.run(["scontrol", "--oneliner", "show", "job", job_id])
        if result.returncode != 0:
            return {}
        return dict(re.findall(r"(?:^|\s)([A-Za-z/:]+)=(\S*)", result.stdout.strip()))

    def logs(self, lines: int = 15) -> str:
        if self.state is None:
            return ""
        out = []
        for path in sorted(self.state.rglob("*.log")) + sorted(
            self.state.glob("*.out")
        ):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    # -- stop -------------------------------------------------------------

    def _active_jobs(self) -> list[str]:
        result = self.run(["squeue", "--noheader", "--format=%i", "--states=PD,R,CG"])
        return result.stdout.split()

    def stop(self) -> list[str]:
        """Cancel this cluster's jobs, stop the daemons started here (by PID,
        newest first) and remove their state. Returns what went wrong."""
        problems = []
        controller = self.processes.get("slurmctld")
        if controller is not None and controller.poll() is None:
            ids = self._active_jobs()
            if ids:  # a check failed mid-run: no job may outlive the tier
                self.run(["scancel", *ids])
                deadline = time.monotonic() + 30
                while self._active_jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for name, process in reversed(self.processes.items()):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    problems.append(f"{name} (pid {process.pid}) ignored SIGTERM")
                    process.kill()
                    process.wait()
        if self.wrote_conf and SLURM_CONF.exists():
            SLURM_CONF.unlink()
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
            if self.state.exists():
                problems.append(f"{self.state} not removed")
        return problems
