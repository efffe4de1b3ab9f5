"""Engine lookup: lazy imports, and a missing engine names its install command."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from stt_studio import engines
from stt_studio.domain import EngineKind
from stt_studio.errors import EngineMissingError
from stt_studio.retry import Retrier


@pytest.mark.parametrize("kind, command", [
    (EngineKind.NEMO, '-m pip install -c constraints.txt "nemo_toolkit[asr]==3.0.0"'),
    (EngineKind.WHISPER, '-m pip install -c constraints.txt "faster-whisper==1.2.1"'),
])
def test_missing_engine_names_the_install_command(kind, command, monkeypatch, tmp_path):
    real = importlib.util.find_spec
    missing = {"nemo", "faster_whisper"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in missing else real(name, *a))
    with pytest.raises(EngineMissingError) as info:
        engines.get_engine(kind, Retrier(), tmp_path)
    assert command in info.value.render()


def test_cli_start_up_imports_no_engine():
    import subprocess

    code = ("import sys; from stt_studio.entrypoints import cli; "
            "cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'nemo', 'faster_whisper', 'ctranslate2') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("model_kind", ["whisper", "nemo"])
def test_cuda_requested_without_a_gpu_is_a_readable_option_error(model_kind, fresh_layout,
                                                                 tiny_nemo):
    import ctranslate2
    import torch

    from stt_studio.errors import InvalidOptionError
    from tests.conftest import make_studio

    if torch.cuda.is_available() or ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a GPU")
    studio = make_studio(fresh_layout, device="cuda")
    model = "tiny.en" if model_kind == "whisper" else str(tiny_nemo["tdt"])
    with pytest.raises(InvalidOptionError) as info:
        studio.load(model)
    assert "--device cpu" in info.value.render()
