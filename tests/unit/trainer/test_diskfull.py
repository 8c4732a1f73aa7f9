"""Disk-full and failed writes (issue 15): the message names the file and the fix, nothing is half-written, no
temp file is left. A real 1 MB tmpfs when this machine lets the test mount one, else a fake full disk."""
from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from trainer import atomic as diskfull
from trainer.atomic import WriteError, atomic_write_bytes, describe_os_error, write_png_checked


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs mounted for the test (root only); skips with the reason when mounting is not allowed."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the fake full disk test covers this case")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); the fake full disk test covers "
                    "this case")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _noise(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (h, w), np.uint8)   # does not compress


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_real_full_disk_names_the_file_and_keeps_the_old_one(tiny_disk):
    target = tiny_disk / "mask.png"
    write_png_checked(target, _noise(64, 64))
    old = target.read_bytes()
    with pytest.raises(WriteError) as info:
        write_png_checked(target, _noise(1200, 1200))               # 1.4 MB of PNG on a 1 MB disk
    msg = str(info.value)
    assert msg.startswith(f"disk full while writing {target}: free space on {tiny_disk}") and info.value.file == str(target)
    assert target.read_bytes() == old and _leftovers(tiny_disk) == []
    new = tiny_disk / "new.png"
    with pytest.raises(WriteError, match="disk full while writing .*new.png"):
        write_png_checked(new, _noise(1200, 1200))
    assert not new.exists() and _leftovers(tiny_disk) == []


def test_fake_full_disk_in_os_write(tmp_path, monkeypatch):
    target = tmp_path / "out" / "probs.png"
    calls = []

    def full(fd, data):
        calls.append(len(data))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(diskfull.os, "write", full)
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(target, b"x" * 100)
    assert calls and "disk full while writing" in str(info.value) and str(target) in str(info.value)
    assert "free space on /" in str(info.value)
    assert not target.exists() and _leftovers(target.parent) == []


def test_short_write_is_detected_and_retried(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(diskfull.os, "write", lambda fd, data: real(fd, bytes(data[:7])))   # 7 bytes per call
    atomic_write_bytes(tmp_path / "a.bin", b"0123456789" * 5)
    assert (tmp_path / "a.bin").read_bytes() == b"0123456789" * 5
    monkeypatch.setattr(diskfull.os, "write", lambda fd, data: 0)                          # no progress
    with pytest.raises(WriteError, match="a.bin"):
        atomic_write_bytes(tmp_path / "a.bin", b"new")
    assert (tmp_path / "a.bin").read_bytes() == b"0123456789" * 5 and _leftovers(tmp_path) == []


def test_size_on_disk_is_checked(tmp_path, monkeypatch):
    real_stat = os.stat

    class Short:
        def __init__(self, st):
            self.st_size = st.st_size - 1

    def short_stat(p, *a, **k):                      # the temp file looks one byte short on disk
        st = real_stat(p, *a, **k)
        return Short(st) if str(p).endswith(".tmp") else st

    monkeypatch.setattr(diskfull.os, "stat", short_stat)
    try:
        with pytest.raises(WriteError, match=r"b.png.*wrote \d+ bytes instead of"):
            write_png_checked(tmp_path / "b.png", _noise(8, 8))
    finally:
        monkeypatch.undo()
    assert not (tmp_path / "b.png").exists() and _leftovers(tmp_path) == []


def test_encode_failure_and_other_errors_name_the_file(tmp_path):
    with pytest.raises(WriteError, match="c.png.*could not encode"):
        write_png_checked(tmp_path / "c.png", np.zeros((4, 4, 7), np.uint8))
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteError, match="cannot write .*d"):
        atomic_write_bytes(tmp_path / "d", b"x")
    ro = describe_os_error(OSError(errno.EROFS, "Read-only file system"), tmp_path / "e.png")
    assert "e.png" in ro and "read-only" in ro
    assert "permission denied" in describe_os_error(OSError(errno.EACCES, "Permission denied"), "/x/f.png")


def test_png_round_trip_and_temp_name_carries_the_pid(tmp_path):
    img = _noise(10, 12)
    n = write_png_checked(tmp_path / "r.png", img)
    assert n == (tmp_path / "r.png").stat().st_size
    import cv2
    assert np.array_equal(cv2.imread(str(tmp_path / "r.png"), cv2.IMREAD_UNCHANGED), img)
    assert f".r.png.{os.getpid()}." in diskfull.temp_path(tmp_path / "r.png").name


def test_evaluation_maps_and_samples_go_through_the_checked_writer(tmp_path, monkeypatch):
    """The evaluation folder's probability maps are written by the one atomic writer: a full disk names the file and
    leaves no temp file behind."""
    from trainer.runs.evaluation import write_prob_png

    monkeypatch.setattr(diskfull.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(WriteError, match="disk full while writing .*probs_a.png"):
        write_prob_png(tmp_path / "probs_a.png", _noise(8, 8))
    assert os.listdir(tmp_path) == []
