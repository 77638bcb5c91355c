"""``ffdb workflow``: a run's status and steps; ``ffdb lifecycle``: the status diagrams."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from backend.app.cli.app import app
from backend.app.cli.common import CommandError, DatabaseUrl, console, write_output
from backend.app.cli.query_commands import Format, OutputFormat, read_command
from backend.app.database.db import DEFAULT_DATABASE_URL
from backend.app.queries import workflow_status
from backend.app.schemas import lifecycles
from backend.app.schemas.read_models import WorkflowDetail


@app.command("workflow")
def workflow_command(
    workflow_id: Annotated[str, typer.Argument(help="The workflow run to show.")],
    output_format: Format = OutputFormat.TABLE,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """A workflow run's status, progress and outputs, and its steps in order."""
    detail = read_command(
        database_url, lambda session: workflow_status(session, workflow_id), output_format
    )
    if output_format is OutputFormat.JSON:
        return
    console.print(workflow_table(detail))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def workflow_table(detail: WorkflowDetail) -> Table:
    """The run's steps as a table; its status and outputs in the title and caption."""
    outputs = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("parameters", detail.parameter_id),
            ("forecast", detail.forecast_id),
            ("allocation", detail.allocation_id),
        )
        if value is not None
    )
    caption = f"outputs: {outputs or 'none'}; steps took {detail.total_duration_seconds:,.3f} s"
    if detail.steps_without_duration:
        caption += f" ({detail.steps_without_duration} without a duration)"
    if detail.error_message:
        caption += f"; error: {detail.error_message}"
    agent = f", at {detail.current_agent}" if detail.current_agent else ""
    table = Table(
        title=f"Workflow {detail.workflow_id} ({detail.category_id}, {detail.season}): "
        f"{detail.status}, {detail.progress:.0%}{agent}",
        caption=caption,
    )
    table.add_column("#", justify="right")
    table.add_column("Step (agent.action)")
    table.add_column("Status")
    table.add_column("Seconds", justify="right")
    for number, step in enumerate(detail.steps, 1):
        table.add_row(
            str(number),
            f"{step.agent_name}.{step.action}",
            str(step.status) + (f": {step.error_message}" if step.error_message else ""),
            _seconds(step.duration_seconds),
        )
    return table


@app.command("lifecycle")
def lifecycle_command(
    readme: Annotated[
        Path | None,
        typer.Option(
            "--readme",
            help="Rewrite the generated lifecycle block of this Markdown file in place.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """The workflow and markdown status diagrams (mermaid), generated from the rules.

    Example: ffdb lifecycle --readme README.md
    """
    if readme is None:
        typer.echo(lifecycles.markdown_section())
        return
    try:
        document = lifecycles.with_section(readme.read_text(encoding="utf-8"))
        write_output(readme, lambda out: out.write(document))
    except (OSError, ValueError) as error:
        raise CommandError(f"{readme}: {error}") from None
    typer.echo(f"wrote {readme}")
