"""Retrain from this run (issue 14): the Runs tab's button fills the Train form for a fine-tune (the run's config,
init_from = the run, 5 epochs, `<old>-ft1`), the form shows where it starts from, and a fine-tuned run says
"from <old run>" in the Runs table. Fake run folders (tests/fakes.py): no torch, milliseconds."""
from __future__ import annotations

from pathlib import Path

import pytest

from crackviewer.runs.retrain import FINETUNE_EPOCHS, finetune_name, run_name_of
from tests.e2e.test_gui_runs import _row_texts, window, workspace  # noqa: F401 - fixtures
from tests.fakes import make_fake_run

pytestmark = pytest.mark.gui


def test_finetune_names_and_init_from_values():
    assert finetune_name("a") == "a-ft1"
    assert finetune_name("a-ft1") == "a-ft2"
    assert finetune_name("a", {"a-ft1", "a-ft2"}) == "a-ft3"
    assert run_name_of("/w/runs/old") == "old"
    assert run_name_of("/w/runs/old/checkpoints/best.pth") == "old"
    assert run_name_of({"checkpoint": "/w/runs/old/checkpoints/last.pth", "run": "/w/runs/old"}) == "old"
    assert run_name_of("") is None and run_name_of(None) is None


def test_retrain_button_fills_the_train_form(window, workspace, qtbot):
    rv, tp = window.runs_view, window.training_panel
    old = workspace / "runs" / "a-finished"
    assert rv.select_run(old)
    assert rv.retrain_button.isEnabled()
    rv.retrain_button.click()
    assert window.current_tab() == "train"
    assert Path(tp.form.value("init_from")) == old.resolve()
    assert tp.form.value("epochs") == FINETUNE_EPOCHS == 5
    assert tp.form.value("lambda_mode") == "schedule"
    assert tp.form.value("input_height") == 64            # the old run's config, not the preset's
    assert tp.name_edit.text() == "a-finished-ft1"
    assert tp.form.widgets["init_from"].isReadOnly()
    assert "Starts from: <b>a-finished</b>" in tp.starts_from_label.text()
    assert not tp.clear_init_button.isHidden()
    assert tp.config()["init_from"] == str(old.resolve())
    tp.clear_init_button.click()
    assert tp.form.value("init_from") == "" and tp.clear_init_button.isHidden()
    assert "random" in tp.starts_from_label.text()


def test_running_run_cannot_be_retrained(window, workspace):
    rv = window.runs_view
    assert rv.select_run(workspace / "runs" / "d-running")
    assert not rv.retrain_button.isEnabled()


def test_finetuned_run_shows_where_it_came_from_and_compares(window, workspace, qtbot):
    rv = window.runs_view
    runs = workspace / "runs"
    new = make_fake_run(runs, name="a-finished-ft1", data=runs.parent.parent / "data", epochs=5, status="finished",
                        config={"init_from": str(runs / "a-finished")})
    rv.refresh()
    assert "from a-finished" in _row_texts(rv, new)[0]
    assert "from" not in _row_texts(rv, runs / "a-finished")[0]
    rv.table.clearSelection()
    for p in (runs / "a-finished", new):
        row = next(r for r in range(rv.table.rowCount()) if rv.table.item(r, 0).data(0x0100) == str(p))
        rv.table.selectionModel().select(rv.table.model().index(row, 0),
                                         rv.table.selectionModel().SelectionFlag.Select
                                         | rv.table.selectionModel().SelectionFlag.Rows)
    assert rv.compare_button.isEnabled()
    with qtbot.waitSignal(rv.compareRequested) as sig:
        rv.compare_button.click()
    assert sorted(Path(p).name for p in sig.args[0]) == ["a-finished", "a-finished-ft1"]
    assert window.compare_window is not None
