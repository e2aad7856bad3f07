"""Django configured for the app's tests (no database: the app stores nothing), and the
StoreX site and server the remote and example-shop tests use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

django = pytest.importorskip("django", reason="the Django app tests need the 'django' extra")

from django.conf import settings  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

from tests.web.site import Site, build_site, shared_storex, stop_shared  # noqa: E402

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.staticfiles", "storex.contrib.django"],
        ROOT_URLCONF="tests.contrib.urls",
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
        ],
        STATIC_URL="/static/",
        DATABASES={},
        USE_TZ=True,
        STOREX={"BUNDLE": "models"},
    )
    django.setup()


@pytest.fixture(scope="session", autouse=True)
def django_test_environment() -> Iterator[None]:
    setup_test_environment()
    yield
    teardown_test_environment()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.getbasetemp() / "storex-site")


@pytest.fixture(scope="session")
def storex_url(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``storex serve`` on the site (shared with the web tests when they run too)."""
    log: Path = tmp_path_factory.mktemp("logs") / "storex-for-django.log"
    yield shared_storex(site, log)
    stop_shared()
