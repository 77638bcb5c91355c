"""Connection layer: settings, engine (made on first use), sessions, the declarative
base and its naming convention, error translation and retries. Nothing here imports
the models or operates on a whole database (that is ``backend.app.maintenance``)."""
