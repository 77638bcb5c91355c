"""A deterministic, realistic sample season for demos and tests."""
