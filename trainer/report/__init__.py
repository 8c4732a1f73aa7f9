"""Reports: the run report (README.md with the published report's sections, filled in from one run) and the
side-by-side comparison of several runs. Qt-free: the figures are drawn by the figures package
(``python -m figures.render``) in a SUBPROCESS (:func:`trainer.report.figures.render_figures`), so the training
process never imports Qt; without the figures package the report is written without figures and says so.

    write_run_report("runs/r1")                         # renders the figures, then writes runs/r1/README.md
    write_run_report("evals/other", run_dir="runs/r1")  # a bare evaluation folder (crack-train eval --out)
    write_comparison(["runs/r1", "runs/r2"], "comparison.md")

Set CRACK_REPORT_FIGURES=0 in the environment to write reports without rendering figures (fast tests).
"""
