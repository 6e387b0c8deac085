"""migrator: the Django admin as a console for versioned schema and data migrations."""

__version__ = "0.1.0.dev0"
