"""The error hierarchy: readable text, lock detection, OSError translation."""

from __future__ import annotations

import errno
import inspect

import pytest

from stt_studio import errors
from stt_studio.errors import (
    AudioError,
    EngineMissingError,
    FileLockedError,
    FileSystemError,
    InvalidOptionError,
    JobCancelled,
    LiveLimitError,
    ModelInUseError,
    ModelNotFoundError,
    NetworkError,
    PermissionDeniedError,
    ServerError,
    StudioError,
    UnexpectedError,
    is_lock_error,
    translate_os_error,
)

ALL_SUBCLASSES = (
    FileLockedError, PermissionDeniedError, NetworkError, FileSystemError, ModelNotFoundError,
    EngineMissingError, AudioError, InvalidOptionError, ModelInUseError, ServerError,
    JobCancelled, LiveLimitError, UnexpectedError,
)
CACHE = "/srv/studio/model_cache"
TARGET = "/srv/studio/model_cache/extracted/abc/model_weights.ckpt"


def _hierarchy() -> list[type[StudioError]]:
    return [
        obj for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, StudioError) and obj is not StudioError
    ]


class WinLockError(PermissionError):
    """A PermissionError carrying Windows' ``winerror`` as CPython sets it on Windows."""

    def __init__(self, winerror: int, *args: object) -> None:
        super().__init__(*args)
        self.winerror = winerror


def test_the_listed_classes_are_the_whole_hierarchy():
    assert set(_hierarchy()) == set(ALL_SUBCLASSES)


@pytest.mark.parametrize("cls", ALL_SUBCLASSES, ids=lambda c: c.__name__)
def test_every_error_renders_title_summary_causes_remedies_and_paths(cls):
    err = cls(
        "the thing went wrong",
        causes=("cause one", "cause two"),
        remedies=("remedy one",),
        paths=("/data/a.wav", CACHE),
        detail="OSError: boom",
    )
    text = err.render()
    lines = text.splitlines()
    assert lines[0] == f"{cls.title}: the thing went wrong"
    for piece in ("Details: OSError: boom", "Likely causes:", "  - cause one", "  - cause two",
                  "What to do:", "  - remedy one", "Paths involved:", "  - /data/a.wav",
                  f"  - {CACHE}"):
        assert piece in lines
    # sections come in the order a reader needs them
    assert (text.index("Likely causes:") < text.index("What to do:")
            < text.index("Paths involved:"))
    assert str(err) == "the thing went wrong"
    assert isinstance(err, StudioError)


@pytest.mark.parametrize("cls", ALL_SUBCLASSES, ids=lambda c: c.__name__)
def test_defaults_fill_in_when_no_causes_or_remedies_are_given(cls):
    err = cls("summary only")
    text = err.render()
    assert err.causes == cls.default_causes
    assert err.remedies == cls.default_remedies
    for cause in cls.default_causes:
        assert f"  - {cause}" in text
    for remedy in cls.default_remedies:
        assert f"  - {remedy}" in text
    assert "Paths involved:" not in text
    assert "Details:" not in text


def test_every_class_in_the_hierarchy_has_a_kind_and_a_title():
    kinds = []
    for cls in _hierarchy():
        err = cls("x")
        assert err.kind != "error", f"{cls.__name__} is missing from the kind mapping"
        assert err.kind and err.kind.isidentifier()
        assert cls.title.strip() and cls.title != StudioError.title, cls.__name__
        kinds.append(err.kind)
    assert len(set(kinds)) == len(kinds), "two classes share a kind"


def test_paths_are_rendered_as_strings(tmp_path):
    err = AudioError("bad", paths=(tmp_path / "x.wav",))
    assert err.paths == (str(tmp_path / "x.wav"),)
    assert str(tmp_path / "x.wav") in err.render()


# -- lock detection --------------------------------------------------------------------------

def test_windows_sharing_violation_is_a_lock():
    exc = PermissionError(
        13, "The process cannot access the file because it is being used by another process", "x"
    )
    assert is_lock_error(exc)  # the message alone identifies it


@pytest.mark.parametrize("winerror", [32, 33])
def test_winerror_attribute_marks_a_lock_even_with_a_bland_message(winerror):
    exc = WinLockError(winerror, 13, "Access is denied", "x")
    assert exc.winerror == winerror
    assert is_lock_error(exc)


def test_winerror_attribute_set_on_plain_permission_error():
    exc = PermissionError(13, "Access is denied", "x")
    exc.winerror = 32  # type: ignore[attr-defined]
    assert is_lock_error(exc)


def test_other_winerror_is_not_a_lock():
    exc = WinLockError(5, 13, "Access is denied", "x")  # ERROR_ACCESS_DENIED
    assert not is_lock_error(exc)


@pytest.mark.parametrize("code", [errno.EBUSY, errno.ETXTBSY])
def test_busy_errnos_are_locks(code):
    assert is_lock_error(OSError(code, "whatever", "x"))


def test_plain_eacces_is_not_a_lock():
    assert not is_lock_error(PermissionError(errno.EACCES, "Permission denied", "x"))


@pytest.mark.parametrize("exc", [
    ValueError("being used by another process"),
    RuntimeError("resource busy"),
    FileNotFoundError(errno.ENOENT, "No such file or directory", "x"),
    OSError(errno.ENOSPC, "No space left on device", "x"),
])
def test_non_lock_errors(exc):
    assert not is_lock_error(exc)


# -- translation -----------------------------------------------------------------------------

def test_lock_translates_to_file_locked_naming_cache_and_advice():
    exc = WinLockError(32, 13, "The process cannot access the file", TARGET)
    err = translate_os_error(exc, action="load the model", path=TARGET, cache_dir=CACHE)
    assert type(err) is FileLockedError
    assert err.kind == "file_locked"
    text = err.render()
    assert TARGET in text
    assert CACHE in text
    assert "antivirus" in text.lower()
    assert "OneDrive" in text
    assert "load the model" in text
    assert "WinLockError" in text  # the original error survives in the details
    assert err.paths == (TARGET, CACHE)


def test_ebusy_translates_to_file_locked():
    err = translate_os_error(OSError(errno.EBUSY, "Device or resource busy"),
                             action="remove", path=TARGET, cache_dir=CACHE)
    assert isinstance(err, FileLockedError)


def test_plain_permission_error_translates_to_permission_denied_naming_the_path():
    exc = PermissionError(errno.EACCES, "Permission denied", TARGET)
    err = translate_os_error(exc, action="write the transcript", path=TARGET, cache_dir=CACHE)
    assert type(err) is PermissionDeniedError
    text = err.render()
    assert TARGET in text
    assert "write the transcript" in text
    assert "--cache-dir" in text
    assert "locked" not in text.lower()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_translates_to_filesystem_error(code):
    exc = OSError(code, "No space left on device", TARGET)
    err = translate_os_error(exc, action="extract the model", path=TARGET, cache_dir=CACHE)
    assert type(err) is FileSystemError
    text = err.render()
    assert "disk is full" in err.summary
    assert "no free space" in text
    assert TARGET in text
    assert "models rm" in text


def test_other_oserror_translates_to_filesystem_error():
    exc = OSError(errno.EIO, "Input/output error", TARGET)
    err = translate_os_error(exc, action="read the recording", path=TARGET, cache_dir=CACHE)
    assert type(err) is FileSystemError
    text = err.render()
    assert "disk is full" not in err.summary
    assert err.summary == f"could not read the recording: {TARGET}"
    assert TARGET in text
    assert "doctor" in text


def test_path_equal_to_cache_is_listed_once():
    err = translate_os_error(OSError(errno.EIO, "x"), action="create the cache folder",
                             path=CACHE, cache_dir=CACHE)
    assert err.paths == (CACHE,)


def test_a_refused_symlink_names_the_link_not_its_relative_target(tmp_path):
    """Windows' os.symlink error holds the target first (``../../blobs/…``), the link second."""
    from stt_studio.errors import PermissionDeniedError, translate_os_error

    link = tmp_path / "snapshots" / "abc" / "model.nemo"
    exc = OSError(errno.EINVAL, "A required privilege is not held by the client",
                  "../../blobs/0123", None, str(link))
    exc.winerror = 1314  # type: ignore[attr-defined] - set by CPython on Windows only
    error = translate_os_error(exc, action="get the model", path="../../blobs/0123",
                               cache_dir=tmp_path)
    assert isinstance(error, PermissionDeniedError)
    assert str(link) in str(error) and "../../blobs" not in str(error)
