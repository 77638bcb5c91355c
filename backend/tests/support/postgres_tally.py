"""A pytest plugin: how many PostgreSQL tests ran, and CI fails when none passed.

`make test` ends with a line such as "postgresql: 55 passed, 0 failed, 0 skipped, 0 errors",
counted on the controller from every worker's reports (conftest registers it there).
In CI (``CI=true``) a run in which no PostgreSQL test passed fails, whatever else
passed: SQLite alone proves nothing about the scale-out backend.
"""

from __future__ import annotations

import pytest

from backend.tests.support.backends import in_ci

MARKER = "postgresql"


class PostgresTally:
    """A pytest plugin counting outcomes of tests marked ``postgresql``."""

    def __init__(self) -> None:
        self.outcomes = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if MARKER not in report.keywords or isinstance(report, pytest.SubtestReport):
            return  # count tests, not the subtests inside them
        if report.when == "call":
            self.outcomes[report.outcome] += 1
        elif report.outcome == "skipped":  # skipped in setup, e.g. no server
            self.outcomes["skipped"] += 1
        elif report.outcome == "failed":  # an error in setup or teardown
            self.outcomes["errors"] += 1

    def line(self) -> str:
        counts = ", ".join(f"{count} {outcome}" for outcome, count in self.outcomes.items())
        return f"{MARKER}: {counts}"

    def none_passed_in_ci(self) -> bool:
        return in_ci() and self.outcomes["passed"] == 0

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_line(self.line(), bold=True)
        if self.none_passed_in_ci():
            terminalreporter.write_line(
                "postgresql: no PostgreSQL test passed; CI requires them", red=True, bold=True
            )

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.none_passed_in_ci() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
