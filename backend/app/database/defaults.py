"""Settings the command line needs before it connects: importing this loads nothing else,
so ``ffdb --help`` can show the default URL without SQLAlchemy."""

DEFAULT_DATABASE_URL = "sqlite:///./fashion_forecast.db"
