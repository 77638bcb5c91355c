"""What an import did (or, with ``--dry-run``, would do)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.app.ingest.formats import FileKind
from backend.app.maintenance.bulk_move import Moved


@dataclass
class ImportResult:
    path: str
    kind: FileKind
    table: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    created: list[str] = field(default_factory=list)
    dry_run: bool = False

    def count(self, moved: Moved) -> None:
        self.inserted += moved.inserted
        self.updated += moved.updated
        self.unchanged += moved.unchanged

    @property
    def records(self) -> int:
        """Rows of the target table the file stands for (daily rows summed into weeks)."""
        return self.inserted + self.updated + self.unchanged

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        parts = [
            f"{self.path}: {self.kind.value} file, {self.rows_read} rows read",
            f"{self.table} {verb}: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged",
        ]
        if self.deleted:
            parts[-1] += f", {self.deleted} replaced rows deleted"
        if self.created:
            parts.append("created " + ", ".join(self.created))
        if self.dry_run:
            parts.append("dry run: nothing written")
        return "; ".join(parts)
