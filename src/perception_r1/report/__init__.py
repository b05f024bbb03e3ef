"""The HTML report of training, evaluation and experiment runs (``perception-r1 report``).

One self-contained file: metric charts (inline SVG, several runs overlaid), run cards that show missing, damaged
or half-written files, evaluation tables, and the rollouts/items with filters and search (inline JavaScript).

Example:
    >>> from perception_r1.report import write_report
    >>> write_report(["runs/a", "runs/b"], "report.html", title="a vs b")  # doctest: +SKIP
"""

from perception_r1.report.load import RunData, load_run
from perception_r1.report.page import build_report, write_report

__all__ = ["RunData", "build_report", "load_run", "write_report"]
