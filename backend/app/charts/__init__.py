"""Charts for people: pictures drawn from the reads (matplotlib, imported on first use)."""
