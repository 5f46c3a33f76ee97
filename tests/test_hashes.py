import hashlib
import subprocess

import pytest
from checkout import ROOT

from vmaf_predictor.factory import s8_hash as hashes
from vmaf_predictor.factory import verify


def test_sums_are_sorted_by_name_in_sha256sum_format(tmp_path):
    (tmp_path / "b.onnx").write_bytes(b"b")
    (tmp_path / "a.md").write_bytes(b"a")
    text = hashes.sums_text([tmp_path / "b.onnx", tmp_path / "a.md"])
    assert text == (
        f"{hashlib.sha256(b'a').hexdigest()}  a.md\n"
        f"{hashlib.sha256(b'b').hexdigest()}  b.onnx\n"
    )


def test_a_malformed_sums_line_is_named():
    with pytest.raises(ValueError, match="SHA256SUMS:2: not a"):
        hashes.parse_sums("0" * 64 + "  a\nnonsense\n")


def _tree(root, files):
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    text = hashes.sums_text([root / n for n in files])
    (root / "SHA256SUMS").write_text(text)
    return root


def test_compare_passes_identical_trees(tmp_path):
    files = {"m.onnx": b"model", "m_card.md": b"card"}
    rows = verify.compare(_tree(tmp_path / "c", files), _tree(tmp_path / "p", files))
    assert all(r.ok for r in rows) and len(rows) == 3


def test_compare_names_a_changed_committed_file(tmp_path):
    files = {"m.onnx": b"model", "m_card.md": b"card"}
    committed = _tree(tmp_path / "c", files)
    (committed / "m.onnx").write_bytes(b"modeL")
    rows = verify.compare(committed, _tree(tmp_path / "p", files))
    assert [r.file for r in rows if not r.ok] == ["m.onnx"]


def test_compare_names_a_file_the_rebuild_changed(tmp_path):
    committed = _tree(tmp_path / "c", {"m.onnx": b"model"})
    rows = verify.compare(committed, _tree(tmp_path / "p", {"m.onnx": b"other"}))
    assert sorted(r.file for r in rows if not r.ok) == ["SHA256SUMS", "m.onnx"]
    assert "MISMATCH" in verify.table(rows)


def test_a_model_built_from_another_corpus_is_explained(tmp_path):
    import json

    def tree(name, label, digest):
        root = _tree(tmp_path / name, {"predictor_x.onnx": name.encode()})
        entry = {"corpus": label, "corpus_sha256": digest, "features": "probe"}
        (root / "PROVENANCE.json").write_text(json.dumps({"predictor_x.onnx": entry}))
        return root

    committed = tree("c", "real-N=30", "a" * 64)
    produced = tree("p", "synthetic-stub-N=100", "b" * 64)
    failures = [r for r in verify.compare(committed, produced) if not r.ok]
    (note,) = verify.corpus_notes(committed, produced, failures)
    assert note.startswith("predictor_x.onnx: built from corpus real-N=30")
    assert "pass that corpus to verify" in note


def test_committed_hashes_come_from_git_head_in_a_checkout():
    sums, source = hashes.committed_sums(ROOT)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "show", "HEAD:model/SHA256SUMS"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert source == "git HEAD:model/SHA256SUMS"
    assert sums == {name: digest for digest, name in map(str.split, head.splitlines())}


def test_committed_hashes_fall_back_to_model_dir_outside_git(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "SHA256SUMS").write_text("ab" * 32 + "  predictor_x.onnx\n")
    assert hashes.committed_sums(tmp_path) == (
        {"predictor_x.onnx": "ab" * 32},
        "model/SHA256SUMS",
    )


def test_without_any_sums_nothing_counts_as_committed(tmp_path):
    sums, source = hashes.committed_sums(tmp_path)
    assert sums == {} and source.startswith("none")
