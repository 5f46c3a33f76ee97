"""One run at a time in a checkout (vmaf_predictor.factory.runs), in process:
the lock is an flock, so a second open of the file contends like a second
process."""

from __future__ import annotations

import os

from vmaf_predictor.factory import runs


def test_the_first_run_holds_the_checkout_and_says_who_it_is(tmp_path):
    claim = runs.claim_checkout(tmp_path)
    assert claim.held and claim.note == ""
    holder = (tmp_path / ".snakemake" / "checkout.lock").read_text()
    assert holder.startswith(f"pid {os.getpid()}, started ")


def test_a_second_run_is_told_who_holds_the_checkout(tmp_path):
    first = runs.claim_checkout(tmp_path)
    second = runs.claim_checkout(tmp_path)
    assert first.held and not second.held
    assert second.note.startswith(
        f"note: another run is using this checkout (pid {os.getpid()}, started "
    )
    refusal = runs.require_checkout()  # as the second run's onstart
    assert refusal.startswith("another run is using this checkout (pid ")
    assert refusal.endswith("then run your command again")


def test_the_holder_may_run_jobs(tmp_path):
    runs.claim_checkout(tmp_path)
    assert runs.require_checkout() is None


def test_a_snakemake_lock_left_by_a_killed_run_is_removed(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("model/SHA256SUMS\n")
    claim = runs.claim_checkout(tmp_path)
    assert claim.held and not locks.exists()
    assert claim.note.startswith("note: removed the lock in ")


def test_a_snakemake_lock_is_kept_while_another_run_holds_the_checkout(tmp_path):
    runs.claim_checkout(tmp_path)
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("model/SHA256SUMS\n")
    assert not runs.claim_checkout(tmp_path).held
    assert (locks / "0.output.lock").is_file()


def test_an_output_below_a_writable_directory_is_writable(tmp_path):
    assert runs.unwritable_outputs([tmp_path / "results" / "x" / "y.json"]) is None
