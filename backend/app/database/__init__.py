"""Connection layer: settings, engines, sessions and SQLite integrity guards."""
