"""The README says what the code does: every environment variable, every mutation."""

from __future__ import annotations

import re
from pathlib import Path

from graphql_schema.schema import schema

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def environment_variables() -> set[str]:
    settings = (ROOT / "backend" / "settings.py").read_text()
    gunicorn = (ROOT / "backend" / "gunicorn.conf.py").read_text()
    return set(re.findall(r'\benv\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings)) | set(
        re.findall(r'environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', gunicorn)
    )


def test_every_environment_variable_is_in_the_configuration_table():
    names = environment_variables()
    table = {
        name
        for row in section("Configuration").splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split(" | ")[0])
    }

    assert {"DEBUG", "SWAGGER_UI_ENABLED", "GUNICORN_TIMEOUT", "BILLING_ISSUER_NAME"} <= names  # the scan works
    assert sorted(names - table) == []


def test_every_mutation_is_listed():
    mutations = set(schema._schema.mutation_type.fields)

    listed = section("APIs")

    assert mutations and sorted(name for name in mutations if f"`{name}`" not in listed) == []
