"""``ffdb`` starts at once: each command loads only what it uses (no wall-clock asserts;
``bench/bench_startup.py`` measures the times)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from sqlalchemy.engine import URL

from backend.app.cli.app import app
from backend.app.cli.commands import COMMANDS, PACKAGE, modules
from backend.app.maintenance.schema_version import head_revision, script_directory

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "rich", "pyarrow", "pydantic", "psycopg", "adbc_driver_manager")


def _loaded_after(argv: list[str]) -> dict[str, object]:
    """Run ``ffdb ARGV`` in a fresh interpreter; which heavy libraries it imported."""
    probe = (
        "import json, sys\n"
        "from backend.app.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "else:\n"
        "    code = 0\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'loaded': loaded}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_version_and_help_load_no_heavy_library(argv: list[str]) -> None:
    report = _loaded_after(argv)
    assert report["loaded"] == []
    assert report["code"] in (0, 2)  # no arguments: help, exit 2 as click does


def test_help_lists_every_command_without_loading_it(capsys: pytest.CaptureFixture[str]) -> None:
    probe = (
        "from backend.app.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_current_reads_the_revision_without_alembic(migrated_url: URL) -> None:
    url = migrated_url.render_as_string(hide_password=False)
    report = _loaded_after(["current", "--database-url", url])
    assert report["code"] == 0
    assert "alembic" not in report["loaded"]  # type: ignore[operator]
    assert "sqlalchemy" in report["loaded"]  # type: ignore[operator]


def test_the_command_table_names_every_command_with_its_own_help() -> None:
    for module in modules():
        importlib.import_module(f"{PACKAGE}.{module}")
    group = typer.main.get_command(app)
    context = group.make_context("ffdb", ["--help"], resilient_parsing=True)
    registered = {
        name: command
        for name, command in group.commands.items()  # type: ignore[attr-defined]
        if not command.hidden
    }
    assert set(registered) == set(COMMANDS)
    for name, command in registered.items():
        listed = group.get_command(context, name)
        assert listed is command  # loaded: the real command, not its listing
        callback = command.callback
        if callback is not None:  # a group (``import``) has none of its own
            assert callback.__module__ == f"{PACKAGE}.{COMMANDS[name].module}", name
        placeholder = typer.core.TyperCommand(name, help=COMMANDS[name].help)
        for limit in (45, 80, 200):
            assert placeholder.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_the_head_read_from_the_revision_files_is_alembics() -> None:
    assert head_revision() == script_directory().get_current_head()
