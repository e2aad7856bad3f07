import pytest

from storex.io import atomic_dir, atomic_path, read_json, write_json


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_dir_replaces_whole_folder_only_on_success(tmp_path):
    target = tmp_path / "artifacts"
    with atomic_dir(target) as staging:
        (staging / "one.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as staging:
        (staging / "two.txt").write_text("2")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["one.txt"]
    with atomic_dir(target) as staging:
        (staging / "three.txt").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["three.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]
