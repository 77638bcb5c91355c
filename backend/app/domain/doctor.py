"""What ``ffdb doctor`` runs: the database's own checks, then the domain rules.

The list is composed here, above both layers, so the database layer never imports
the domain layer.
"""

from __future__ import annotations

from sqlalchemy import Connection

from backend.app.domain.violations import find_rule_violations
from backend.app.maintenance import health
from backend.app.schemas.problems import Problem


def domain_rules(connection: Connection) -> list[Problem]:
    """Rows that break a domain rule (curve, distribution, allocation, markdown, actuals:
    ``backend.app.domain.violations``), at most MAX_ROWS_PER_RULE per rule and table."""
    by_rule: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for problem in find_rule_violations(connection):
        by_rule.setdefault((problem.check, problem.table), []).append((problem.key, problem.detail))
    return [
        capped
        for (check, table), findings in by_rule.items()
        for capped in health.cap_findings(check, table, findings)
    ]


CHECKS: list[health.Check] = [*health.CHECKS, domain_rules]
