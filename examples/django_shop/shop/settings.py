"""Settings of the example shop, read from ``SHOP_*`` environment variables.

``SHOP_STOREX_URL``
    A running StoreX service; without it the shop serves ``SHOP_STOREX_BUNDLE``.
``SHOP_STOREX_BUNDLE``
    A bundle folder or registry root (default: ``models/`` of this checkout, where
    ``make demo`` writes).
``SHOP_CATALOG``
    The data set whose items are the shop's products (default ``synthetic``, the store the
    demo trains on), a name ``storex data list`` shows or a path.
``SHOP_DEBUG``
    ``1`` (default) serves the static files from ``runserver``.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
CHECKOUT = BASE_DIR.parent.parent

SECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "example-shop-only-not-a-secret")
DEBUG = os.environ.get("SHOP_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "storex.contrib.django",
    "shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "shop.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES: dict = {}  # the products come from a data set; nothing is stored
STATIC_URL = "static/"
USE_TZ = True

SHOP_CATALOG = os.environ.get("SHOP_CATALOG", "synthetic")
STOREX: dict[str, object]
if os.environ.get("SHOP_STOREX_URL"):
    STOREX = {
        "URL": os.environ["SHOP_STOREX_URL"],
        "API_KEY": os.environ.get("SHOP_STOREX_API_KEY"),
    }
else:
    STOREX = {"BUNDLE": os.environ.get("SHOP_STOREX_BUNDLE", str(CHECKOUT / "models"))}
STOREX |= {"ITEMS": "shop.catalog.lookup", "COUNT": 6}
