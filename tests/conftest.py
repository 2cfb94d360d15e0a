"""Shared by the unit and integration tests: the reliability marker (tests/reliability.py)."""
from reliability import pytest_collection_modifyitems, pytest_configure, pytest_runtest_makereport, reliability  # noqa: F401  pylint: disable=unused-import
