"""Project-wide pytest hooks: per-notebook run times and their budgets.

nbval turns every code cell into a test item; this adds up the cells of each notebook and prints one
line per notebook at the end of `make test`, with the lesson's time budget. Time alone never fails a
learner's run (a slow laptop is not a bug). CI sets NB_BUDGET_ENFORCE=1: then a notebook that needs
more than budget * BUDGET_SLACK fails the run, so the series stays runnable in seconds per lesson.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

# Seconds per lesson on a 2-core machine (the issues' budgets). Solutions share their lesson's budget.
DEFAULT_BUDGET = 20.0
BUDGETS = {"04": 30.0, "07": 40.0}
# With NB_BUDGET_ENFORCE=1 (CI), fail only when a notebook needs more than budget * BUDGET_SLACK, so
# that a busy machine does not make CI flaky; the table always marks every notebook over its budget.
BUDGET_ENFORCE = os.environ.get("NB_BUDGET_ENFORCE", "") == "1"
BUDGET_SLACK = float(os.environ.get("NB_BUDGET_SLACK", "2.0"))

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
    if over and BUDGET_ENFORCE:
        tr.write_line(
            f"FAILED: notebooks over {BUDGET_SLACK}x their budget: {', '.join(over)}", red=True
        )
    elif over:
        tr.write_line(
            f"note: over {BUDGET_SLACK}x their budget here (not a failure; CI enforces it): "
            + ", ".join(over)
        )


def _far_over_budget() -> list[str]:
    return [p for p, s in sorted(_durations.items()) if s > budget_for(p) * BUDGET_SLACK]


def pytest_sessionfinish(session, exitstatus):
    # Runs before the terminal summary is written; the summary says why the run failed.
    if BUDGET_ENFORCE and _far_over_budget() and exitstatus == 0:
        session.exitstatus = 1
