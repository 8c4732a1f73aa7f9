"""The app's MaskStore in two REAL processes (issue 15): label changes of different samples are all kept, and a
mask changed by another process is never silently overwritten."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from crackviewer.annotate.mask_store import MaskConflictError, MaskSaveError, MaskStore
from trainer.datasets.images import read_mask
from trainer.datasets.layouts import open_dataset

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def dataset(tmp_path):
    from trainer.datasets.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path / "ds", n_train_pos=2, n_train_neg=8, n_val_pos=1, n_val_neg=1,
                                  n_test_pos=1, n_test_neg=1, size=(32, 32), seed=5)


def _spawn(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out


LABELLER = """
    import sys, time
    from pathlib import Path
    from crackviewer.annotate.mask_store import MaskStore
    root, go, names = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    store = MaskStore(root)                     # both stores read the manifest before either writes
    Path(str(go) + "." + names[0]).touch()
    while not go.exists():
        time.sleep(0.001)
    for rnd in range(5):
        for n in names:
            store.set_label(n, 1 - store.record(n).label)
"""


def test_two_stores_flipping_labels_of_different_samples_keep_every_change(dataset, tmp_path):
    negs = sorted(r.name for r in open_dataset(dataset).split("train") if r.label == 0)
    a, b = negs[:4], negs[4:8]
    go = tmp_path / "go"
    procs = [_spawn(LABELLER, str(dataset), str(go), *names) for names in (a, b)]
    for names in (a, b):
        while not Path(f"{go}.{names[0]}").exists():
            assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
            time.sleep(0.05)
    go.touch()
    for p in procs:
        _finish(p)
    labels = {r.name: r.label for r in open_dataset(dataset).samples}
    assert all(labels[n] == 1 for n in a + b), labels      # 5 flips each: every sample ends as crack


EDITOR = """
    import sys
    import numpy as np
    from crackviewer.annotate.mask_store import MaskStore
    store = MaskStore(sys.argv[1])
    mask, _ = store.load_mask(sys.argv[2], (32, 32))
    mask[:] = 0
    mask[0:4, :] = 1
    store.save_mask(sys.argv[2], mask)
"""


def test_mask_changed_by_another_process_is_not_overwritten(dataset):
    store = MaskStore(dataset)
    name = next(r.name for r in store.records() if r.label == 1 and r.has_mask)
    mine, _ = store.load_mask(name, (32, 32))
    _finish(_spawn(EDITOR, str(dataset), name))               # the other app instance saves first
    theirs = read_mask(store.record(name).mask_path, (32, 32))
    assert theirs[0:4].all()
    mine[20:24, :] = 1
    with pytest.raises(MaskConflictError) as info:
        store.save_mask(name, mine)
    assert "changed by another program" in str(info.value) and name in str(info.value)
    assert np.array_equal(read_mask(store.record(name).mask_path, (32, 32)), theirs)   # not overwritten
    # reload (the other's strokes) and save again: both edits are in the file
    merged, _ = store.load_mask(name, (32, 32))
    merged[20:24, :] = 1
    store.save_mask(name, merged)
    final = read_mask(store.record(name).mask_path, (32, 32))
    assert final[0:4].all() and final[20:24].all()


HOLDER = """
    import sys, time
    from pathlib import Path
    from crackviewer.annotate.mask_store import MaskStore
    store = MaskStore(sys.argv[1])
    assert store.take_edit_lock() is None
    Path(sys.argv[2]).touch()
    time.sleep(300)
"""


def test_second_store_opens_read_only_and_names_the_editor(dataset, tmp_path):
    ready = tmp_path / "ready"
    p = _spawn(HOLDER, str(dataset), str(ready))
    try:
        while not ready.exists():
            assert p.poll() is None, p.communicate()[1]
            time.sleep(0.05)
        store = MaskStore(dataset)
        held = store.take_edit_lock()
        assert held is not None and held.owner.pid == p.pid
        assert str(held).startswith("opened read-only: ") and f"(pid {p.pid} on " in str(held)
        name = next(r.name for r in store.records() if r.label == 0)
        with pytest.raises(MaskSaveError, match="opened read-only"):
            store.set_label(name, 1)
        with pytest.raises(MaskSaveError, match="opened read-only"):
            store.save_mask(name, np.ones((32, 32), np.uint8))
        assert open_dataset(dataset).sample_by_name(name).label == 0
    finally:
        p.kill()
        p.wait()
    assert store.take_edit_lock() is None and store.read_only is None     # the holder is gone: editable again
    store.release_edit_lock()
