"""Project-wide pytest hooks: per-notebook run times and their budgets.

nbval turns every code cell into a test item; this adds up the cells of each notebook and prints one
line per notebook at the end of `make test`, with the lesson's time budget. A notebook far over its
budget fails the run (see BUDGET_SLACK), so the series stays runnable in seconds per lesson.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

# Seconds per lesson on a 2-core machine (the issues' budgets). Solutions share their lesson's budget.
DEFAULT_BUDGET = 20.0
BUDGETS = {"07": 40.0}
# Fail only when a notebook needs more than budget * BUDGET_SLACK, so that a busy machine does not
# make CI flaky; the table still marks every notebook over its budget.
BUDGET_SLACK = float(os.environ.get("NB_BUDGET_SLACK", "1.5"))

_durations: dict[str, float] = defaultdict(float)


def budget_for(path: str) -> float:
    return BUDGETS.get(Path(path).name[:2], DEFAULT_BUDGET)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _durations[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _durations:
        return
    tr = terminalreporter
    tr.section("notebook run times")
    total = 0.0
    for path in sorted(_durations):
        seconds, budget = _durations[path], budget_for(path)
        total += seconds
        flag = "" if seconds <= budget else "  OVER BUDGET"
        tr.write_line(f"{seconds:7.1f} s  (budget {budget:4.0f} s)  {path}{flag}")
    tr.write_line(f"{total:7.1f} s  in all, {len(_durations)} notebooks")
    over = _far_over_budget()
    if over:
        tr.write_line(
            f"FAILED: notebooks over {BUDGET_SLACK}x their budget: {', '.join(over)}", red=True
        )


def _far_over_budget() -> list[str]:
    return [p for p, s in sorted(_durations.items()) if s > budget_for(p) * BUDGET_SLACK]


def pytest_sessionfinish(session, exitstatus):
    # Runs before the terminal summary is written; the summary says why the run failed.
    if _far_over_budget() and exitstatus == 0:
        session.exitstatus = 1
