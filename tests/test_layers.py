"""The layers import-linter cannot express: services, processing and tasks use no HTTP module of
Django's (import-linter names external packages only by their top level). The rest of the layers
are contracts in pyproject.toml, checked by `lint-imports` in `make test`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "media_tasks"
HTTP_MODULES = ("django.http", "django.urls", "django.shortcuts", "ninja")
NO_HTTP = [
    *sorted((ROOT / "services").glob("*.py")),
    *sorted((ROOT / "processing").glob("*.py")),
    *sorted((ROOT / "tasks").glob("*.py")),
]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", NO_HTTP, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_processing_and_tasks_know_no_http(path):
    http = {name for name in imported_modules(path) if name.startswith(HTTP_MODULES)}
    assert not http, f"{path.name} imports {sorted(http)}"
