"""``ffdb doctor`` runs the domain rules: the demo is clean, a broken rule is named."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.demo.sample_season import generate_sample_season
from backend.app.domain import doctor
from backend.app.maintenance import health
from backend.tests.support.cli import has_row, run_ffdb
from backend.tests.support.sql import execute_sql


def test_doctor_runs_the_database_checks_then_the_domain_rules() -> None:
    assert [*health.CHECKS, doctor.domain_rules] == doctor.CHECKS


def test_doctor_and_check_pass_on_the_demo_and_name_a_broken_rule(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(migrated_url)
    try:
        generate_sample_season(engine, seed=42)
    finally:
        engine.dispose()
    result = run_ffdb(capsys, "doctor", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0

    execute_sql(
        migrated_url,
        "UPDATE markdowns SET gap_pct = 0.5 WHERE markdown_id = 'MD-CAT-WD-SS25-W06'",
    )
    result = run_ffdb(capsys, "doctor", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert has_row(result.stdout, "markdown_gap", "markdowns", "MD-CAT-WD-SS25-W06"), result.stdout
    assert "1 problem(s) found" in result.stderr


def test_domain_rule_findings_are_capped_per_rule(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(migrated_url)
    try:
        generate_sample_season(engine, seed=42)
    finally:
        engine.dispose()
    # Weeks 2..6 of one forecast's actual sales outside a 1-week horizon: 250 findings.
    execute_sql(
        migrated_url,
        "UPDATE forecasts SET forecast_horizon_weeks = 1 WHERE forecast_id = 'FC-CAT-AC-SS25'",
    )
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            problems = [
                p for p in doctor.domain_rules(connection) if p.check == "actual_sales_week"
            ]
    finally:
        engine.dispose()
    assert len(problems) == health.MAX_ROWS_PER_RULE + 1
    assert problems[-1].key == "..."
