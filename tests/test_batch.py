"""Batch planning (`stt_studio.batch`): real folders in tmp, no models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stt_studio import batch
from stt_studio.batch import BatchItem, output_stems, plan


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """in/ with media at two levels, a non-media file, hidden entries."""
    root = tmp_path / "in"
    touch(root, "b.wav", "A.MP3", "notes.txt", "clip10.flac", "clip2.flac",
          "sub/c.m4a", "sub/deeper/d.WebM", "sub/deeper/readme.md",
          ".hidden.wav", ".cache/e.wav", "sub/.x/f.wav")
    return root


def sources(work: batch.BatchPlan) -> list[str]:
    return [item.source.as_posix() for item in work.items]


def test_a_folder_gives_its_own_media_files_in_natural_order(tree, tmp_path):
    out = tmp_path / "out"
    work = plan([tree], out, ("txt",))
    assert [Path(s).name for s in sources(work)] == ["A.MP3", "b.wav", "clip2.flac",
                                                     "clip10.flac"]
    assert all(item.output_folder == out for item in work.items)
    assert [p.name for p in work.skipped_non_media] == ["notes.txt"]
    assert work.skipped_existing == () and work.unreadable == ()


def test_recursive_walks_sub_folders_and_mirrors_them(tree, tmp_path):
    out = tmp_path / "out"
    work = plan([tree], out, ("txt", "srt"), recursive=True)
    got = {item.source.relative_to(tree).as_posix(): item for item in work.items}
    assert list(got) == ["A.MP3", "b.wav", "clip2.flac", "clip10.flac", "sub/c.m4a",
                         "sub/deeper/d.WebM"]  # hidden files and folders are left out
    assert got["sub/c.m4a"] == BatchItem(tree / "sub" / "c.m4a", out / "sub", "c")
    assert got["sub/deeper/d.WebM"].output_folder == out / "sub" / "deeper"
    assert got["sub/deeper/d.WebM"].targets(("txt", "srt")) == (
        out / "sub" / "deeper" / "d.txt", out / "sub" / "deeper" / "d.srt")
    assert sorted(p.name for p in work.skipped_non_media) == ["notes.txt", "readme.md"]


def test_a_file_named_on_the_command_line_is_always_tried(tmp_path):
    touch(tmp_path, "voice.dat", "in/x.dat")
    missing = tmp_path / "gone.wav"
    work = plan([tmp_path / "voice.dat", missing, tmp_path / "in"], tmp_path / "out", ("txt",))
    assert [item.source for item in work.items] == [tmp_path / "voice.dat", missing]
    assert work.skipped_non_media == (tmp_path / "in" / "x.dat",)  # in a folder: not media


def test_every_listed_extension_counts_whatever_its_case():
    for ext in ("wav", "flac", "mp3", "m4a", "aac", "ogg", "opus", "oga", "wma", "aiff", "aif",
                "amr", "webm", "mp4", "mkv", "mov", "avi", "m4v", "3gp", "wv", "ape", "mka"):
        assert batch.is_media(Path(f"x.{ext}")) and batch.is_media(Path(f"x.{ext.upper()}"))
    for name in ("x.txt", "x.srt", "x.json", "x.jpg", "x", "wav"):
        assert not batch.is_media(Path(name))


def test_natural_order():
    names = ["t10.wav", "T2.wav", "t1.wav", "a.wav", "t2b.wav"]
    assert sorted(names, key=batch.natural_key) == ["a.wav", "t1.wav", "T2.wav", "t2b.wav",
                                                    "t10.wav"]


def test_stems_are_told_apart_within_one_output_folder_only(tmp_path):
    touch(tmp_path, "in/a.wav", "in/a.mp3", "in/sub/a.wav", "other/a.wav")
    out = tmp_path / "out"
    work = plan([tmp_path / "in", tmp_path / "other"], out, ("txt",), recursive=True)
    got = [(item.source.relative_to(tmp_path).as_posix(), item.output_folder, item.stem)
           for item in work.items]
    assert got == [("in/a.mp3", out, "a_mp3"), ("in/a.wav", out, "a_wav"),
                   ("in/sub/a.wav", out / "sub", "a"),  # its own folder: no clash
                   ("other/a.wav", out, "a_wav-2")]  # a second folder argument, same out


def test_output_stems_never_collide():
    inputs = [Path("a/p001.wav"), Path("a/p001.flac"), Path("b/p001.wav"), Path("c/P001.WAV"),
              Path("solo.mp3"), Path("p001_wav")]
    stems = output_stems(inputs)
    assert len({s.lower() for s in stems}) == len(inputs)
    assert stems[:2] == ["p001_wav", "p001_flac"]
    assert stems[4] == "solo"
    assert output_stems([Path("A.wav"), Path("a.mp3")]) == ["A_wav", "a_mp3"]
    assert output_stems([Path("x.wav")]) == ["x"]


def test_an_input_whose_outputs_all_exist_is_skipped_unless_overwrite(tmp_path):
    touch(tmp_path, "in/done.wav", "in/half.wav", "in/new.wav", "out/done.txt",
          "out/done.srt", "out/half.txt")
    inputs, out = [tmp_path / "in"], tmp_path / "out"
    work = plan(inputs, out, ("txt", "srt"))
    assert [i.stem for i in work.skipped_existing] == ["done"]
    assert [i.stem for i in work.items] == ["half", "new"]  # partly done: redone
    assert work.total == 3
    assert [i.stem for i in plan(inputs, out, ("txt",)).skipped_existing] == ["done", "half"]
    forced = plan(inputs, out, ("txt", "srt"), overwrite=True)
    assert [i.stem for i in forced.items] == ["done", "half", "new"]
    assert forced.skipped_existing == ()


def test_a_file_named_twice_runs_once(tmp_path):
    touch(tmp_path, "in/a.wav")
    work = plan([tmp_path / "in" / "a.wav", tmp_path / "in", tmp_path / "in" / "a.wav"],
                tmp_path / "out", ("txt",))
    assert [i.source for i in work.items] == [tmp_path / "in" / "a.wav"]


@pytest.mark.fault("bad input", "a symlink inside the input folder points back up the tree",
                   "the walk ends; each file is planned once")
def test_symlink_loops_are_not_followed(tmp_path):
    touch(tmp_path, "in/a.wav", "in/sub/b.wav")
    (tmp_path / "in" / "sub" / "up").symlink_to(tmp_path / "in", target_is_directory=True)
    (tmp_path / "in" / "self").symlink_to(tmp_path / "in", target_is_directory=True)
    work = plan([tmp_path / "in"], tmp_path / "out", ("txt",), recursive=True)
    assert [i.source.name for i in work.items] == ["a.wav", "b.wav"]


def test_the_output_folder_inside_the_input_folder_is_not_walked(tmp_path):
    touch(tmp_path, "in/a.wav", "in/out/old.wav", "in/out/notes.txt")
    work = plan([tmp_path / "in"], tmp_path / "in" / "out", ("txt",), recursive=True)
    assert [i.source.name for i in work.items] == ["a.wav"]
    assert work.skipped_non_media == ()


@pytest.mark.fault("bad input", "a sub-folder of the input folder cannot be listed "
                   "(PermissionError from os.scandir)",
                   "its files are left out and the folder is named; the others are planned")
def test_an_unreadable_sub_folder_is_reported_and_the_rest_planned(tmp_path, monkeypatch):
    touch(tmp_path, "in/a.wav", "in/locked/b.wav", "in/z/c.wav")
    real_scandir = os.scandir
    locked = tmp_path / "in" / "locked"

    def scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    work = plan([tmp_path / "in"], tmp_path / "out", ("txt",), recursive=True)
    assert [i.source.name for i in work.items] == ["a.wav", "c.wav"]
    assert work.unreadable == (batch.Unreadable(locked, "Permission denied"),)


def test_a_folder_input_without_media_is_named(tmp_path):
    touch(tmp_path, "notes/readme.txt", "nested/sub/a.wav", "media/a.wav")
    (tmp_path / "bare").mkdir()
    inputs = [tmp_path / name for name in ("notes", "nested", "media", "bare")]
    work = plan(inputs, tmp_path / "out", ("txt",))
    assert work.empty_folders == (tmp_path / "notes", tmp_path / "nested", tmp_path / "bare")
    assert [i.source.name for i in work.items] == ["a.wav"]
    deep = plan(inputs, tmp_path / "out", ("txt",), recursive=True)
    assert deep.empty_folders == (tmp_path / "notes", tmp_path / "bare")
    touch(tmp_path, "out/a.txt")  # already done is not empty
    assert plan([tmp_path / "media"], tmp_path / "out", ("txt",)).empty_folders == ()
