"""What a run checks before its first job (vmaf_predictor.factory.runs)."""

from __future__ import annotations

import os
import shutil

from vmaf_predictor.factory import runs


def test_an_output_below_a_writable_directory_is_writable(tmp_path):
    assert runs.unwritable_outputs([tmp_path / "results" / "x" / "y.json"]) is None


def test_an_output_in_a_directory_without_write_permission_is_named(tmp_path):
    locked = tmp_path / "model"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        found = runs.unwritable_outputs([locked / "m.onnx"])
    finally:
        locked.chmod(0o755)
    # root may write anywhere
    assert found == (None if os.geteuid() == 0 else f"{locked}/")


def test_a_lock_file_released_while_it_is_read_is_no_lock(tmp_path, monkeypatch):
    """Snakemake lists its lock files, then opens them: the first lock file
    here vanishes in between (its run ended), and the check reads the
    directory again instead of failing."""
    from snakemake.persistence.file import FilePersistence

    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "0.output.lock").write_text("results/a.json\n")
    (locks / "1.output.lock").write_text("results/b.json\n")
    real_open = open
    vanished = []

    def open_after_release(path, *args, **kwargs):
        if str(path).endswith("0.output.lock") and not vanished:
            vanished.append(path)
            os.remove(path)
        return real_open(path, *args, **kwargs)

    for name in ("_read_locks", "_write_locks", "_delete_locks"):
        monkeypatch.setattr(FilePersistence, name, getattr(FilePersistence, name))
    runs.tolerate_released_locks()
    persistence = FilePersistence.__new__(FilePersistence)
    persistence._lockdir = str(locks)
    monkeypatch.setattr("builtins.open", open_after_release)
    assert list(persistence._read_locks()) == [("output", "results/b.json")]
    assert vanished


def test_a_lock_directory_removed_before_the_lock_is_written_is_made_again(
    tmp_path, monkeypatch
):
    """Another run ends and removes .snakemake/locks after this one found a
    free lock file name: the lock is written all the same."""
    from snakemake.persistence.file import FilePersistence

    locks = tmp_path / "locks"
    locks.mkdir()
    real_exists = os.path.exists
    released = []

    def exists_then_released(path):
        found = real_exists(path)
        if str(path).endswith("0.input.lock") and not released:
            released.append(path)
            shutil.rmtree(locks)
        return found

    for name in ("_read_locks", "_write_locks", "_delete_locks"):
        monkeypatch.setattr(FilePersistence, name, getattr(FilePersistence, name))
    runs.tolerate_released_locks()
    persistence = FilePersistence.__new__(FilePersistence)
    persistence._lockdir, persistence._lockfile = str(locks), {}
    monkeypatch.setattr("os.path.exists", exists_then_released)
    persistence._write_locks("input", ["results/a.json"])
    monkeypatch.undo()
    assert released
    assert (locks / "0.input.lock").read_text() == "results/a.json\n"


def test_a_lock_directory_another_run_removed_first_is_removed(tmp_path, monkeypatch):
    """Two runs end together: the other removed .snakemake/locks between
    this one's check that it exists and its removal."""
    from snakemake.persistence.file import FilePersistence

    for name in ("_read_locks", "_write_locks", "_delete_locks"):
        monkeypatch.setattr(FilePersistence, name, getattr(FilePersistence, name))
    runs.tolerate_released_locks()
    persistence = FilePersistence.__new__(FilePersistence)
    persistence._lockdir, persistence._lockfile = str(tmp_path / "locks"), {}
    monkeypatch.setattr("os.path.exists", lambda path: True)
    persistence._delete_locks()
    monkeypatch.undo()
    assert not (tmp_path / "locks").exists()
