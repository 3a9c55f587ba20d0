"""Evaluation reports: runs side by side in the Lemur paper's table shapes, as Markdown, HTML and PNG.

- :mod:`~lemur.eval.reports.loader` reads and validates run directories' ``summary.json``;
- :mod:`~lemur.eval.reports.paper` holds the paper's table shapes and published scores
  (``paper_scores.yaml``);
- :mod:`~lemur.eval.reports.tables` computes the tables and averages;
- :mod:`~lemur.eval.reports.plots` draws the PNGs (matplotlib, optional);
- :mod:`~lemur.eval.reports.markdown` and :mod:`~lemur.eval.reports.html` render;
- :mod:`~lemur.eval.reports.report` ties them together and writes files atomically.
"""
