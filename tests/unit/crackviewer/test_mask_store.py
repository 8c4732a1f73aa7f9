"""Mask storage: the dataset's own layout, atomic writes, backups, labels, the stroke journal, failing saves."""
import errno
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from crackviewer.annotate.mask_model import MaskModel
from crackviewer.annotate.mask_store import LabelError, MaskSaveError, MaskStore, read_journal
from trainer.datasets.layouts import open_dataset
from trainer.datasets.images import read_mask


def _img(seed, h=40, w=48):
    rng = np.random.default_rng(seed)
    return rng.integers(90, 200, (h, w, 3), dtype=np.uint8)


def _crack_mask(h=40, w=48, row=20):
    m = np.zeros((h, w), np.uint8)
    m[row - 1:row + 2, 4:w - 4] = 255
    return m


def make_manifest(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = ["name,label,split,source"]
    spec = [("seg1", 1, "train", True), ("seg2", 1, "train", True), ("weak1", 1, "train", False),
            ("neg1", 0, "train", True), ("neg2", 0, "val", False), ("segv", 1, "val", True)]
    for i, (name, label, split, has) in enumerate(spec):
        cv2.imwrite(str(root / "images" / f"{name}.png"), _img(i))
        if has:
            cv2.imwrite(str(root / "masks" / f"{name}.png"), _crack_mask() if label else np.zeros((40, 48), np.uint8))
        rows.append(f'{name},{label},{split},"repo/x, tile {i}"')
    (root / "manifest.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return root


def make_khanhha(root: Path) -> Path:
    for sp in ("train", "test"):
        (root / sp / "images").mkdir(parents=True)
        (root / sp / "masks").mkdir(parents=True)
    for i, (sp, name, has) in enumerate([("train", "c1", True), ("train", "c2", True), ("train", "c3", True),
                                         ("train", "noncrack_1", True), ("train", "noncrack_2", True),
                                         ("train", "w1", False), ("test", "t1", True), ("test", "noncrack_t", True)]):
        cv2.imwrite(str(root / sp / "images" / f"{name}.jpg"), _img(i))
        if has:
            m = np.zeros((40, 48), np.uint8) if name.startswith("noncrack") else _crack_mask(row=10 + i)
            cv2.imwrite(str(root / sp / "masks" / f"{name}.jpg"), m)
    return root


def make_ksdd2(root: Path) -> Path:
    for sp in ("train", "test"):
        (root / sp).mkdir(parents=True)
    for i, (sp, name, crack) in enumerate([("train", "10", True), ("train", "11", False), ("train", "12", True),
                                          ("train", "13", False), ("test", "20", True), ("test", "21", False)]):
        cv2.imwrite(str(root / sp / f"{name}.png"), _img(i))
        cv2.imwrite(str(root / sp / f"{name}_GT.png"), _crack_mask() if crack else np.zeros((40, 48), np.uint8))
    return root


@pytest.fixture
def manifest_ds(tmp_path):
    return make_manifest(tmp_path / "ds")


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*.tmp")]


def test_save_writes_the_layouts_mask_and_backs_up_the_original_once(manifest_ds):
    store = MaskStore(manifest_ds)
    rec = store.record("seg1")
    original = rec.mask_path.read_bytes()
    mask = read_mask(rec.mask_path, (40, 48))
    mask[30:35, 10:20] = 1
    res = store.save_mask("seg1", mask)
    assert res.wrote == manifest_ds / "masks" / "seg1.png"
    assert res.backup == manifest_ds / ".crackviewer" / "backup" / "masks" / "seg1.png"
    assert res.backup.read_bytes() == original
    # the file is a plain 0/255 single-channel PNG that the trainer reads back exactly
    raw = cv2.imread(str(res.wrote), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8 and raw.ndim == 2 and set(np.unique(raw)) == {0, 255}
    np.testing.assert_array_equal(read_mask(res.wrote, (40, 48)), mask)
    # second edit: the backup keeps the original
    mask[0:3, 0:3] = 1
    res2 = store.save_mask("seg1", mask)
    assert res2.backup is None
    assert (manifest_ds / ".crackviewer" / "backup" / "masks" / "seg1.png").read_bytes() == original
    np.testing.assert_array_equal(read_mask(res.wrote, (40, 48)), mask)
    assert no_temp_files(manifest_ds)


def test_new_mask_makes_a_weak_sample_segmented(manifest_ds):
    before = open_dataset(manifest_ds).counts()["train"]
    store = MaskStore(manifest_ds)
    m = MaskModel(np.zeros((40, 48), np.uint8))
    m.polyline([(5, 5), (40, 30)], 3)
    res = store.save_mask("weak1", m.mask)
    assert res.backup is None and res.record.has_mask
    assert res.wrote == manifest_ds / "masks" / "weak1.png"
    after = open_dataset(manifest_ds).counts()["train"]
    assert after["segmented"] == before["segmented"] + 1 and after["weak"] == before["weak"] - 1
    assert store.counts()["train"] == after


def test_painting_a_negative_makes_it_a_crack_and_rewrites_only_its_manifest_line(manifest_ds):
    mpath = manifest_ds / "manifest.csv"
    old_lines = mpath.read_bytes().split(b"\r\n")
    store = MaskStore(manifest_ds)
    mask = np.zeros((40, 48), np.uint8)
    mask[10:12, 5:30] = 1
    res = store.save_mask("neg1", mask)
    assert res.label_changed and res.record.label == 1 and res.record.has_mask
    new_lines = mpath.read_bytes().split(b"\r\n")
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert len(old_lines) == len(new_lines) and len(changed) == 1
    assert new_lines[changed[0]] == b'neg1,1,train,"repo/x, tile 3"'
    assert (manifest_ds / ".crackviewer" / "backup" / "manifest.csv").read_bytes() == b"\r\n".join(old_lines)
    idx = open_dataset(manifest_ds)
    assert idx.sample_by_name("neg1").label == 1 and idx.sample_by_name("neg1").has_mask
    # the original all-zero mask of the negative was backed up too
    assert (manifest_ds / ".crackviewer" / "backup" / "masks" / "neg1.png").is_file()


def test_set_label_manifest_and_back(manifest_ds):
    store = MaskStore(manifest_ds)
    store.set_label("weak1", 0)
    assert open_dataset(manifest_ds).sample_by_name("weak1").label == 0
    store.set_label("weak1", 1)
    assert open_dataset(manifest_ds).sample_by_name("weak1").label == 1
    assert store.record("weak1").label == 1


def test_emptying_a_crack_mask_makes_it_weak(manifest_ds):
    store = MaskStore(manifest_ds)
    original = (manifest_ds / "masks" / "segv.png").read_bytes()
    res = store.save_mask("segv", np.zeros((40, 48), np.uint8))
    assert res.removed == manifest_ds / "masks" / "segv.png" and not res.removed.exists()
    assert (manifest_ds / ".crackviewer" / "backup" / "masks" / "segv.png").read_bytes() == original
    rec = open_dataset(manifest_ds).sample_by_name("segv")
    assert rec.label == 1 and not rec.has_mask
    # an empty mask on a crack-free sample without a mask file writes nothing
    res = store.save_mask("neg2", np.zeros((40, 48), np.uint8))
    assert res.wrote is None and not (manifest_ds / "masks" / "neg2.png").exists()


def test_khanhha_jpeg_masks_round_trip_and_label_overrides(tmp_path):
    root = make_khanhha(tmp_path / "kh")
    store = MaskStore(root)
    assert store.layout == "khanhha"
    rec = store.record("c1")
    assert rec.mask_path.suffix == ".jpg"
    mask = read_mask(rec.mask_path, (40, 48))
    mask[25:40:2, 3:45:3] = 1          # a fine pattern: JPEG must not blur it across the 127 threshold
    res = store.save_mask("c1", mask)
    assert res.wrote == rec.mask_path and res.backup.suffix == ".jpg"
    assert res.backup == root / ".crackviewer" / "backup" / "train" / "masks" / "c1.jpg"
    np.testing.assert_array_equal(read_mask(rec.mask_path, (40, 48)), mask)
    # a weak khanhha sample gets its new mask where the loader looks for it
    w = np.zeros((40, 48), np.uint8)
    w[5:8, 5:40] = 1
    res = store.save_mask("w1", w)
    assert res.wrote == root / "train" / "masks" / "w1.png"
    assert open_dataset(root).sample_by_name("w1").has_mask
    # labels are encoded in names: the change goes to the overrides file
    store.set_label("noncrack_2", 1)
    assert json.loads((root / ".crackviewer" / "labels.json").read_text()) == {"noncrack_2": 1}
    assert MaskStore(root).record("noncrack_2").label == 1      # re-read by a new store
    assert open_dataset(root).sample_by_name("noncrack_2").label == 1   # and by the trainer's loader
    store.set_label("noncrack_2", 0)                              # back to the layout's own label: no override
    assert json.loads((root / ".crackviewer" / "labels.json").read_text()) == {}


def test_ksdd2_label_follows_the_mask(tmp_path):
    root = make_ksdd2(tmp_path / "k2")
    store = MaskStore(root)
    assert store.layout == "ksdd2"
    with pytest.raises(LabelError, match="paint"):
        store.set_label("11", 1)
    m = np.zeros((40, 48), np.uint8)
    m[3:6, 3:30] = 1
    res = store.save_mask("11", m)
    assert res.label_changed and res.record.label == 1
    assert open_dataset(root).sample_by_name("11").label == 1
    res = store.save_mask("10", np.zeros((40, 48), np.uint8))     # emptied: crack-free, the GT file stays
    assert res.record.label == 0 and (root / "train" / "10_GT.png").is_file()
    assert open_dataset(root).sample_by_name("10").label == 0


def test_failing_save_target_is_a_folder(manifest_ds):
    store = MaskStore(manifest_ds)
    (manifest_ds / "masks" / "weak1.png").mkdir()          # the target path is a folder: the write must fail
    with pytest.raises(MaskSaveError) as ei:
        store.save_mask("weak1", _crack_mask() // 255)
    assert "weak1.png" in str(ei.value) and "folder" in str(ei.value)
    assert not store.record("weak1").has_mask
    assert no_temp_files(manifest_ds)


def test_failing_save_os_replace_raises_keeps_the_old_file(manifest_ds, monkeypatch):
    store = MaskStore(manifest_ds)
    target = manifest_ds / "masks" / "seg2.png"
    old = target.read_bytes()

    def boom(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(MaskSaveError, match="disk full") as ei:
        store.save_mask("seg2", np.ones((40, 48), np.uint8))
    assert "seg2" in str(ei.value)
    assert target.read_bytes() == old
    assert no_temp_files(manifest_ds)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not block writes (the other failing-save tests cover it)")
def test_failing_save_read_only_folder(manifest_ds):
    store = MaskStore(manifest_ds)
    masks = manifest_ds / "masks"
    os.chmod(masks, 0o555)
    try:
        with pytest.raises(MaskSaveError, match="ermission"):
            store.save_mask("weak1", np.ones((40, 48), np.uint8))
    finally:
        os.chmod(masks, 0o755)


def test_journal_replays_unsaved_strokes_and_ignores_a_torn_tail(manifest_ds):
    store = MaskStore(manifest_ds)
    shape = (40, 48)
    base, n = store.load_mask("seg2", shape)
    assert n == 0
    m = MaskModel(base)
    m.listeners.append(lambda ch, how: store.journal_append("seg2", shape, ch.writes("old" if how == "undo" else "new")))
    m.brush((5, 5), (40, 35), 3)
    m.polyline([(0, 39), (47, 0)], 2)
    m.undo()
    m.brush((20, 20), None, 7, value=0)
    expected = m.mask.copy()
    assert store.pending_journals() == ["seg2"]
    # simulate a process killed while writing the next record: append half a record
    jp = store.journal_path("seg2")
    good_size = jp.stat().st_size
    with open(jp, "ab") as f:
        f.write(b"CVJ1\x50\x00\x00\x00garbage")
    records, torn = read_journal(jp)
    assert len(records) == 4 and torn
    again = MaskStore(manifest_ds)          # a fresh process
    got, n = again.load_mask("seg2", shape)
    assert n == 4
    np.testing.assert_array_equal(got, expected)
    # a save that covers the journal removes it
    again.save_mask("seg2", got, journal_covered=again.journal_size("seg2"))
    assert not jp.exists() and again.pending_journals() == []
    assert good_size > 0


def test_journal_kept_when_strokes_arrive_during_a_save(manifest_ds):
    store = MaskStore(manifest_ds)
    shape = (40, 48)
    base, _ = store.load_mask("seg1", shape)
    m = MaskModel(base)
    m.listeners.append(lambda ch, how: store.journal_append("seg1", shape, ch.writes("new")))
    m.brush((5, 5), None, 5)
    snapshot, covered = m.mask.copy(), store.journal_size("seg1")
    m.brush((30, 30), None, 5)                       # arrives while the save of the snapshot is running
    store.save_mask("seg1", snapshot, journal_covered=covered)
    assert store.journal_path("seg1").exists()       # the newer stroke is only in the journal
    got, n = MaskStore(manifest_ds).load_mask("seg1", shape)
    np.testing.assert_array_equal(got, m.mask)        # replay over the newer saved mask is still exact


def test_stale_temp_files_of_dead_processes_are_removed(manifest_ds):
    dead = manifest_ds / "masks" / ".seg1.png.999999.1.tmp"          # pid 999999: not running
    mine = manifest_ds / "masks" / f".seg2.png.{os.getpid()}.1.tmp"  # this process: maybe writing right now
    other = manifest_ds / "masks" / ".notes.tmp"                      # not ours
    for p in (dead, mine, other):
        p.write_bytes(b"x")
    removed = MaskStore(manifest_ds).remove_stale_temp_files()
    assert removed == [dead] and not dead.exists() and mine.exists() and other.exists()


def test_save_with_the_history_label_gives_a_crack_free_sample_its_label_back(manifest_ds):
    """Issue 17 bug 1, Qt-free side: an undone edit saves with the label the history says (0), not the label the
    edit's save had written (1); crack pixels always make a crack."""
    store = MaskStore(manifest_ds)
    crack = _crack_mask() > 0
    res = store.save_mask("neg2", crack)
    assert res.label_changed and open_dataset(manifest_ds).sample_by_name("neg2").label == 1
    res = store.save_mask("neg2", np.zeros_like(crack), label=0)
    assert res.label_changed and res.record.label == 0
    got = open_dataset(manifest_ds).sample_by_name("neg2")
    assert got.label == 0 and not read_mask(got.mask_path, (40, 48)).any()
    assert store.save_mask("neg2", crack, label=0).record.label == 1


def test_change_remembers_the_label_and_last_change_is_the_undo_step():
    m = MaskModel(np.zeros((20, 20), np.uint8))
    assert m.last_change is None
    m.brush((2, 2), (10, 2), 3, 1)
    ch = m.last_change
    assert ch is not None and ch.label is None and ch.changed_pixels == m.crack_pixels()
    ch.label = (0, 1)
    seen = []
    m.listeners.append(lambda c, how: seen.append((c.label, how)))
    m.undo()
    m.redo()
    assert seen == [((0, 1), "undo"), ((0, 1), "redo")]
