"""Every Python block of the README runs as written (on the shipped demo models, in a folder holding the
``video.mp4`` the blocks name)."""

import re
from pathlib import Path

import pytest

from posetrack.synth import preset
from posetrack.synth.files import write_clip

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    video, _ = write_clip(preset("easy", frames=8, size=(320, 192)), 5, root, "000005_mpii")
    video.rename(root / "video.mp4")
    return root


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs(folder, monkeypatch, index):
    monkeypatch.chdir(folder)
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})
