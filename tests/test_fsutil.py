"""Whole or nothing: files and folders written through kinetype.fsutil, and the temporaries a
killed writer leaves."""

import os
import stat
import subprocess
import sys

import pytest

from kinetype.fsutil import (FILE_MODE, TEMP_MARK, NotARegularFile, atomic_folder, atomic_path, atomic_write_bytes,
                             read_regular_bytes, remove_stale_temporaries, remove_stale_temporaries_in, temp_sibling)


def dead_writers_temporary(target, folder=False):
    """A temporary of ``target`` named by a process that has exited (a killed writer's leftover)."""
    code = "import sys; from kinetype.fsutil import temp_sibling; print(temp_sibling(sys.argv[1]))"
    name = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                          check=True).stdout.strip()
    left = type(target)(name)
    if folder:
        left.mkdir()
        (left / "half.bin").write_bytes(b"x" * 10)
    else:
        left.write_bytes(b"half")
    return left


def test_atomic_write(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE
    assert os.listdir(tmp_path) == ["a.bin"]


def test_atomic_path_error_leaves_nothing(tmp_path):
    path = tmp_path / "b.mp4"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp != path
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["b.mp4"]
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "new.bin") as tmp:
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == ["b.mp4"]


def test_atomic_path_without_overwrite_keeps_a_file_written_meanwhile(tmp_path):
    path = tmp_path / "c.txt"
    with pytest.raises(FileExistsError):
        with atomic_path(path, overwrite=False) as tmp:
            tmp.write_bytes(b"mine")
            path.write_bytes(b"theirs")  # another process got there first
    assert path.read_bytes() == b"theirs" and os.listdir(tmp_path) == ["c.txt"]


def test_a_failed_write_names_the_output(tmp_path):
    path = tmp_path / "d.bin"
    with pytest.raises(OSError) as e:
        with atomic_path(path):
            raise OSError(28, "No space left on device")  # as a full disk's write() raises it: no file name
    assert e.value.filename == str(path) and os.listdir(tmp_path) == []


def test_a_folder_appears_whole(tmp_path):
    out = tmp_path / "ckpt"
    with atomic_folder(out) as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path and tmp.name.startswith(".ckpt" + TEMP_MARK)
        (tmp / "a.bin").write_bytes(b"a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.bin").write_bytes(b"b")
        assert not out.exists()  # nothing under the final name until the block ends
    assert (out / "a.bin").read_bytes() == b"a" and (out / "sub" / "b.bin").read_bytes() == b"b"
    assert os.listdir(tmp_path) == ["ckpt"]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_folder_whose_writer_raises_midway_is_absent_or_the_old_one(tmp_path, existing):
    out = tmp_path / "pipeline"
    if existing:
        out.mkdir()
        (out / "weights.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_folder(out, overwrite=True) as tmp:
            (tmp / "weights.bin").write_bytes(b"new, half")
            raise RuntimeError("midway")
    if existing:
        assert sorted(p.name for p in out.iterdir()) == ["weights.bin"] and (out / "weights.bin").read_bytes() == b"old"
    else:
        assert not out.exists()
    assert os.listdir(tmp_path) == (["pipeline"] if existing else [])


def test_a_folder_replaces_the_old_one_only_when_asked(tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(FileExistsError):
        with atomic_folder(out) as tmp:
            (tmp / "new.txt").write_text("new")
    assert os.listdir(out) == ["old.txt"] and os.listdir(tmp_path) == ["export"]
    with atomic_folder(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert os.listdir(out) == ["new.txt"] and os.listdir(tmp_path) == ["export"]


def test_an_empty_folder_made_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "export"
    with pytest.raises(FileExistsError):
        with atomic_folder(out) as tmp:
            (tmp / "video_info.csv").write_text("x")
            out.mkdir()  # a rename would silently replace an empty folder
    assert os.listdir(out) == [] and os.listdir(tmp_path) == ["export"]


def test_a_dead_writers_temporaries_go_a_live_ones_stay(tmp_path):
    target = tmp_path / "shard-000001.tar"
    dead = dead_writers_temporary(target)
    live = temp_sibling(target)  # this process's own: alive
    live.write_bytes(b"in progress")
    (tmp_path / "keep.txt").write_text("not ours")
    assert remove_stale_temporaries(target) == [dead]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, "keep.txt"])
    assert remove_stale_temporaries(target, any_writer=True) == [live]  # the owner of the name clears all
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_writing_clears_what_a_killed_writer_of_the_same_output_left(tmp_path):
    file_left = dead_writers_temporary(tmp_path / "card.json")
    folder_left = dead_writers_temporary(tmp_path / "export", folder=True)
    atomic_write_bytes(tmp_path / "card.json", b"{}")
    with atomic_folder(tmp_path / "export") as tmp:
        (tmp / "video_info.csv").write_text("x")
    assert not file_left.exists() and not folder_left.exists()
    assert sorted(os.listdir(tmp_path)) == ["card.json", "export"]


def test_a_folders_dead_temporaries_of_any_name_go(tmp_path):
    """A run killed while writing step 40 resumes from step 20 and may next write another step."""
    left = dead_writers_temporary(tmp_path / "step_00000040", folder=True)
    live = temp_sibling(tmp_path / "step_00000060")
    live.mkdir()
    (tmp_path / ".hidden.tmp-notours").write_text("x")
    assert remove_stale_temporaries_in(tmp_path) == [left]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, ".hidden.tmp-notours"])


def test_temporary_names_fit_where_the_output_name_does(tmp_path):
    longest = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".tar")) + ".tar"
    with atomic_path(tmp_path / longest) as tmp:
        assert len(os.fsencode(tmp.name)) <= os.pathconf(tmp_path, "PC_NAME_MAX") and tmp.suffix == ".tar"
        tmp.write_bytes(b"x")
    assert os.listdir(tmp_path) == [longest]


def test_only_a_regular_file_is_read(tmp_path):
    """A FIFO is refused without being opened (an open would wait for a writer for ever), a folder
    without an IsADirectoryError; a link to a file is read; a missing file is the caller's to name."""
    (tmp_path / "f.json").write_bytes(b"{}")
    os.symlink(tmp_path / "f.json", tmp_path / "link.json")
    assert read_regular_bytes(tmp_path / "f.json") == read_regular_bytes(tmp_path / "link.json") == b"{}"
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.json").mkdir()
    for name, kind in (("fifo.json", "a FIFO"), ("dir.json", "a folder")):
        with pytest.raises(NotARegularFile) as caught:
            read_regular_bytes(tmp_path / name, "remove it")
        assert str(caught.value) == f"{tmp_path / name}: not a regular file ({kind}): remove it"
    with pytest.raises(FileNotFoundError):
        read_regular_bytes(tmp_path / "missing.json")
