"""The summary line that proves PostgreSQL tests ran, and the CI rule that none is a failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest_plugins = ["pytester"]
Runner = Callable[..., pytest.RunResult]

CONFTEST = """
import pytest
from backend.tests.support.postgres_tally import PostgresTally

def pytest_configure(config):
    config.addinivalue_line("markers", "postgresql: on the PostgreSQL server")
    config.pluginmanager.register(PostgresTally(), "ffdb-postgres-tally")

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def backend_name(request):
    return request.param
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Runner:
    def run_tests(tests: str, *, ci: bool) -> pytest.RunResult:
        pytester.makeconftest(CONFTEST)
        pytester.makepyfile(tests)
        if ci:
            monkeypatch.setenv("CI", "true")
        else:
            monkeypatch.delenv("CI", raising=False)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist")

    return run_tests


def test_counts_postgresql_tests_by_outcome(run: Runner) -> None:
    result = run(
        """
import pytest

def test_both(backend_name):
    pass

def test_fails_on_postgresql(backend_name):
    assert backend_name == "sqlite"

def test_skips(backend_name):
    pytest.skip("no")

def test_sqlite_only():
    pass
""",
        ci=False,
    )
    result.stdout.fnmatch_lines(["postgresql: 1 passed, 1 failed, 1 skipped, 0 errors"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_ci_run_without_a_passing_postgresql_test_fails(run: Runner) -> None:
    tests = """
import pytest

def test_sqlite_only():
    pass

def test_postgresql_skipped(backend_name):
    if backend_name == "postgresql":
        pytest.skip("server not reachable")
"""
    result = run(tests, ci=True)
    result.stdout.fnmatch_lines(
        [
            "postgresql: 0 passed, 0 failed, 1 skipped, 0 errors",
            "postgresql: no PostgreSQL test passed; CI requires them",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_same_run_passes_on_a_laptop(run: Runner) -> None:
    tests = """
def test_sqlite_only():
    pass
"""
    result = run(tests, ci=False)
    result.stdout.fnmatch_lines(["postgresql: 0 passed, 0 failed, 0 skipped, 0 errors"])
    assert result.ret == pytest.ExitCode.OK
