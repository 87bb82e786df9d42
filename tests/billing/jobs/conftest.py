"""Fixtures for the report job tests."""

import pytest


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (the eager job execution) when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
