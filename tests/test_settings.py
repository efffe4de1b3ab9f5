"""Settings: read once from STT_STUDIO_* variables, explicit arguments win."""

from __future__ import annotations

from pathlib import Path

import pytest

from stt_studio.retry import RetryPolicy
from stt_studio.settings import (
    DEFAULT_MODEL,
    SERVE_MODEL_TTL_S,
    Settings,
    default_cache_dir,
)
from stt_studio.system import project_root


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({})
    assert settings.device == "auto"
    assert settings.default_model == DEFAULT_MODEL == "tiny.en"
    assert settings.retry == RetryPolicy()
    assert settings.hub_url == "https://huggingface.co"
    assert settings.cache_dir == default_cache_dir().resolve()
    assert settings.cache_dir.is_absolute()


def test_default_cache_is_model_cache_in_the_checkout():
    root = project_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert default_cache_dir() == root / "model_cache"


def test_values_come_from_the_environment(tmp_path):
    env = {
        "STT_STUDIO_CACHE_DIR": str(tmp_path / "c"),
        "STT_STUDIO_DEVICE": "cpu",
        "STT_STUDIO_DEFAULT_MODEL": "nvidia/parakeet-tdt-0.6b-v2",
        "STT_STUDIO_RETRY_DELAYS": "0.5,1,2",
        "STT_STUDIO_RETRY_MAX_S": "7",
        "HF_ENDPOINT": "http://mirror.example:8080/",
    }
    settings = Settings.from_env(env)
    assert settings.cache_dir == (tmp_path / "c").resolve()
    assert settings.device == "cpu"
    assert settings.default_model == "nvidia/parakeet-tdt-0.6b-v2"
    assert settings.retry == RetryPolicy(delays_s=(0.5, 1.0, 2.0), max_wait_s=7.0)
    assert settings.hub_url == "http://mirror.example:8080"  # trailing slash dropped


def test_retry_bound_and_delays_are_independent():
    only_bound = Settings.from_env({"STT_STUDIO_RETRY_MAX_S": "3"})
    assert only_bound.retry == RetryPolicy(delays_s=(0.1, 0.2, 0.3), max_wait_s=3.0)
    only_delays = Settings.from_env({"STT_STUDIO_RETRY_DELAYS": "1,2"})
    assert only_delays.retry == RetryPolicy(delays_s=(1.0, 2.0), max_wait_s=10.0)
    with pytest.raises(ValueError, match="STT_STUDIO_RETRY_MAX_S must be a number"):
        Settings.from_env({"STT_STUDIO_RETRY_MAX_S": "soon"})


def test_model_ttl_is_off_for_the_cli_and_on_for_serve():
    assert Settings.from_env({}).model_ttl_s is None
    assert Settings.from_env({}, serving=True).model_ttl_s == SERVE_MODEL_TTL_S
    assert Settings.from_env({"STT_STUDIO_MODEL_TTL_S": "60"}).model_ttl_s == 60.0
    assert Settings.from_env({"STT_STUDIO_MODEL_TTL_S": "0"}, serving=True).model_ttl_s is None
    with pytest.raises(ValueError, match="STT_STUDIO_MODEL_TTL_S"):
        Settings.from_env({"STT_STUDIO_MODEL_TTL_S": "forever"})


def test_explicit_arguments_win_over_the_environment(tmp_path):
    env = {"STT_STUDIO_CACHE_DIR": str(tmp_path / "from-env"), "STT_STUDIO_DEVICE": "cuda"}
    settings = Settings.from_env(env, cache_dir=tmp_path / "from-flag", device="cpu")
    assert settings.cache_dir == (tmp_path / "from-flag").resolve()
    assert settings.device == "cpu"


def test_reads_os_environ_when_no_mapping_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("STT_STUDIO_CACHE_DIR", str(tmp_path / "envcache"))
    monkeypatch.setenv("STT_STUDIO_DEVICE", "cpu")
    settings = Settings.from_env()
    assert settings.cache_dir == (tmp_path / "envcache").resolve()
    assert settings.device == "cpu"


def test_relative_and_home_paths_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings.from_env({}, cache_dir="rel").cache_dir == tmp_path.resolve() / "rel"
    assert Settings.from_env({"STT_STUDIO_CACHE_DIR": "~/c"}).cache_dir == (
        (tmp_path / "home" / "c").resolve())


@pytest.mark.parametrize("device", ["gpu", "CUDA", "mps", ""])
def test_invalid_device_is_rejected(device):
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        Settings(cache_dir=Path("/tmp/x"), device=device)


def test_invalid_device_from_the_environment_is_rejected():
    with pytest.raises(ValueError, match="'tpu'"):
        Settings.from_env({"STT_STUDIO_DEVICE": "tpu"})


def test_bad_retry_delays_are_rejected():
    with pytest.raises(ValueError):
        Settings.from_env({"STT_STUDIO_RETRY_DELAYS": "0.1,-2"})


def test_window_must_be_long_enough():
    with pytest.raises(ValueError, match="long_audio_window_s"):
        Settings(cache_dir=Path("/tmp/x"), long_audio_window_s=10)


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.device = "cpu"  # type: ignore[misc]


def test_api_key_and_upload_limit_from_the_environment():
    settings = Settings.from_env({"STT_STUDIO_API_KEY": "k3y", "STT_STUDIO_MAX_UPLOAD_MB": "64"})
    assert (settings.api_key, settings.max_upload_mb) == ("k3y", 64)
    flags = Settings.from_env({"STT_STUDIO_API_KEY": "k3y", "STT_STUDIO_MAX_UPLOAD_MB": "64"},
                              api_key="other", max_upload_mb=8)
    assert (flags.api_key, flags.max_upload_mb) == ("other", 8)
    assert Settings.from_env({}).api_key is None
    assert Settings.from_env({}).max_upload_mb == 2048


@pytest.mark.parametrize("env", [{"STT_STUDIO_MAX_UPLOAD_MB": "lots"},
                                 {"STT_STUDIO_MAX_UPLOAD_MB": "0"},
                                 {"STT_STUDIO_API_KEY": "two words"}])
def test_bad_api_settings_are_rejected(env):
    with pytest.raises(ValueError, match="STT_STUDIO_MAX_UPLOAD_MB|max_upload_mb|API key"):
        Settings.from_env(env)
