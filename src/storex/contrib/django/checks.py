"""``manage.py check`` reports a wrong ``STOREX`` setting before the first request does."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from storex.contrib.django.conf import storex_settings


@checks.register("storex")
def check_storex_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    try:
        config = storex_settings()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="storex.E001")]
    if config.bundle is not None and not config.bundle.exists():
        return [
            checks.Warning(
                f"settings.STOREX['BUNDLE'] {str(config.bundle)!r} does not exist yet",
                hint="Train a model first (`storex demo` or `storex train`), or use 'URL'.",
                id="storex.W001",
            )
        ]
    return []
