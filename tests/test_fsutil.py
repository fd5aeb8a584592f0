"""Outputs are replaced whole or not at all."""

import pytest

from mobilekit.fsutil import atomic_write_text, staged_dir


def test_staged_dir_replaces_an_existing_directory_whole(tmp_path):
    final = tmp_path / "bundle"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with staged_dir(final, replace=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (final / "old.txt").exists(), "the old result stays until the new one is complete"
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"], "no temp or old dirs left behind"


def test_staged_dir_failure_leaves_the_old_result_untouched(tmp_path):
    final = tmp_path / "bundle"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_dir(final, replace=True) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("killed mid-export")
    assert sorted(p.name for p in final.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_staged_dir_refuses_to_replace_without_permission(tmp_path):
    (tmp_path / "bundle").mkdir()
    with pytest.raises(FileExistsError):
        with staged_dir(tmp_path / "bundle", replace=False):
            pass


def test_atomic_write_text_leaves_no_temp_file(tmp_path):
    atomic_write_text(tmp_path / "a" / "x.json", "{}")
    atomic_write_text(tmp_path / "a" / "x.json", '{"v": 2}')
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.json"]
    assert (tmp_path / "a" / "x.json").read_text() == '{"v": 2}'
