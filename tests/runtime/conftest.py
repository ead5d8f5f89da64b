from tests.export.conftest import checkpoint, exported  # noqa: F401  (shared fixtures)
