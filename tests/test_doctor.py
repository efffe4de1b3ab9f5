"""Doctor checks that need no subprocess (the CLI tests run the real command)."""

from __future__ import annotations

from stt_studio.doctor import OK, WARN, _leftovers
from stt_studio.retry import Retrier


def test_the_web_ui_folder_is_not_a_leftover(fresh_layout):
    (fresh_layout.ui_dir / "outputs").mkdir(parents=True)
    assert _leftovers(fresh_layout, Retrier(), clean=False).status == OK
    (fresh_layout.tmp_dir / "stt-studio-abc").mkdir()
    check = _leftovers(fresh_layout, Retrier(), clean=False)
    assert check.status == WARN and "stt-studio-abc" in check.detail
    assert "ui" not in check.detail.replace("stt-studio-abc", "")
    assert _leftovers(fresh_layout, Retrier(), clean=True).status == OK
    assert fresh_layout.ui_dir.is_dir()  # --clean leaves a running studio's files alone
