"""Reading settings from the environment (12-factor): plain functions, so settings.py reads as a list."""

from __future__ import annotations

import os


def env(name: str, default: str = "") -> str:
    """The variable's value; set but blank counts as unset (`DATABASE_URL=` in a copied .env.example)."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]
