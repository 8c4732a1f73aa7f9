"""Dataset edits across REAL processes: the edit lock, locked label changes, guarded mask saves (issue 15)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from trainer.datasets.filestamp import FileStamp, MaskGuard, SaveConflict
from trainer.datasets.lock import DatasetLock, LockHeld, update_manifest_labels
from trainer.errors import DataError

ROOT = Path(__file__).resolve().parents[3]


def _spawn(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen, timeout: float = 120) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return out


def _wait_for(path: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def _manifest(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["name,label,split,source"] + [f"{n},0,train,\"src, {n}\"" for n in names]
    (root / "manifest.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return root / "manifest.csv"


def _labels(mpath: Path) -> dict[str, str]:
    rows = mpath.read_text(encoding="utf-8").splitlines()[1:]
    return {r.split(",")[0]: r.split(",")[1] for r in rows}


FLIPPER = """
    import sys, time
    from pathlib import Path
    from trainer.datasets.lock import update_manifest_labels
    root, prefix, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.001)
    for i in range(20):
        update_manifest_labels(root, {f"{prefix}{i}": 1})
"""


def test_two_processes_flipping_labels_lose_nothing(tmp_path):
    names = [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)]
    mpath = _manifest(tmp_path / "ds", names)
    go = tmp_path / "go"
    procs = [_spawn(FLIPPER, str(tmp_path / "ds"), p, str(go)) for p in ("a", "b")]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        _finish(p)
    assert _labels(mpath) == {n: "1" for n in names}
    # every other cell kept as written (quoted source, CRLF line ends)
    assert mpath.read_bytes().count(b"\r\n") == 41 and b'"src, a7"' in mpath.read_bytes()


def test_update_manifest_labels_keeps_other_lines_and_refuses_unknown_names(tmp_path):
    mpath = _manifest(tmp_path, ["x", "y"])
    before = mpath.read_bytes()
    with pytest.raises(DataError, match="not listed.*'nope'"):
        update_manifest_labels(tmp_path, {"x": 1, "nope": 1})
    assert mpath.read_bytes() == before
    labels = update_manifest_labels(tmp_path, {"y": 1}, backup=tmp_path / ".crackviewer" / "backup" / "m.csv")
    assert labels == {"x": 0, "y": 1}
    assert (tmp_path / ".crackviewer" / "backup" / "m.csv").read_bytes() == before
    assert mpath.read_bytes() == before.replace(b"y,0,", b"y,1,")


HOLDER = """
    import sys, time
    from pathlib import Path
    from trainer.datasets.lock import DatasetLock
    lock = DatasetLock(sys.argv[1], app="holder-test")
    lock.acquire()
    Path(sys.argv[2]).touch()
    time.sleep(120)
"""


def test_second_process_cannot_take_the_lock_and_sees_the_owner(tmp_path):
    ready = tmp_path / "ready"
    p = _spawn(HOLDER, str(tmp_path), str(ready))
    try:
        _wait_for(ready)
        lock = DatasetLock(tmp_path)
        with pytest.raises(LockHeld) as info:
            lock.acquire()
        owner = info.value.owner
        assert owner is not None and owner.pid == p.pid and owner.app == "holder-test" and owner.alive()
        msg = str(info.value)
        assert msg.startswith("opened read-only: ") and f"(pid {p.pid} on " in msg and "since " in msg
        assert not lock.held and lock.owner().pid == p.pid
    finally:
        p.kill()
        p.wait()


def test_lock_is_free_after_the_holder_is_killed(tmp_path):
    ready = tmp_path / "ready"
    p = _spawn(HOLDER, str(tmp_path), str(ready))
    _wait_for(ready)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    lock = DatasetLock(tmp_path)
    assert lock.owner() is None                      # the file still names the dead pid: stale, not held
    assert lock.acquire() is True
    assert lock.stale_owner is not None and lock.stale_owner.pid == p.pid and lock.stale_owner.alive() is False
    assert lock.owner().pid == os.getpid()
    lock.release()
    assert lock.owner() is None


def test_lock_in_one_process_twice_is_refused_and_release_frees_it(tmp_path):
    with DatasetLock(tmp_path) as first:
        assert first.held
        held = DatasetLock(tmp_path).try_acquire()
        assert isinstance(held, LockHeld) and held.owner.pid == os.getpid()
    assert DatasetLock(tmp_path).try_acquire() is None


# ------------------------------------------------------------------------------------------------------ masks

def _png(mask: np.ndarray) -> bytes:
    import cv2
    ok, buf = cv2.imencode(".png", mask)
    assert ok
    return buf.tobytes()


def test_save_refused_when_another_process_changed_the_mask(tmp_path):
    path = tmp_path / "masks" / "s1.png"
    path.parent.mkdir()
    path.write_bytes(_png(np.zeros((8, 8), np.uint8)))
    guard = MaskGuard(tmp_path)
    guard.loaded(path)
    theirs = _png(np.full((8, 8), 255, np.uint8))
    _finish(_spawn("import sys; from pathlib import Path; Path(sys.argv[1]).write_bytes(bytes.fromhex(sys.argv[2]))",
                   str(path), theirs.hex()))
    conflict = guard.save(path, _png(np.eye(8, dtype=np.uint8) * 255))
    assert isinstance(conflict, SaveConflict) and "changed by another program" in conflict.message
    assert str(path) in conflict.message
    assert path.read_bytes() == theirs                        # not overwritten
    os.utime(path)                                            # touched, same bytes: no conflict after reload
    guard.loaded(path)
    os.utime(path, ns=(1, 1))
    assert guard.save(path, None) is None and not path.exists()
    # removed by someone else after we loaded it: saving ours is a conflict too
    guard.loaded(path)
    path.write_bytes(theirs)
    assert isinstance(guard.save(path, None), SaveConflict) and path.exists()


MASK_EDITOR = """
    import sys, time
    import cv2, numpy as np
    from pathlib import Path
    from trainer.datasets.filestamp import MaskGuard
    root, path, band, go = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    guard = MaskGuard(root)
    while not go.exists():
        time.sleep(0.001)
    conflicts = 0
    for i in range(15):
        while True:
            mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            guard.loaded(path)
            mask[band + i, :] = 255                    # this stroke
            ok, buf = cv2.imencode(".png", mask)
            if guard.save(path, buf.tobytes()) is None:
                break
            conflicts += 1                             # refused: reload the other's strokes and redo ours
    print(conflicts)
"""


def test_concurrent_mask_edits_are_never_silently_lost(tmp_path):
    path = tmp_path / "masks" / "shared.png"
    path.parent.mkdir()
    path.write_bytes(_png(np.zeros((40, 16), np.uint8)))
    go = tmp_path / "go"
    procs = [_spawn(MASK_EDITOR, str(tmp_path), str(path), str(band), str(go)) for band in (0, 20)]
    time.sleep(0.5)
    go.touch()
    conflicts = [int(_finish(p).strip()) for p in procs]
    import cv2
    final = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    painted = [r for r in range(40) if final[r].all()]
    assert painted == list(range(15)) + list(range(20, 35)), (painted, conflicts)
    assert FileStamp.of(path).exists
