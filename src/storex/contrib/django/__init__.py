"""StoreX for Django shops: a "Recommended for You" block and a JSON view.

Add the app and its URLs, then tell it where recommendations come from::

    INSTALLED_APPS = [..., "django.contrib.staticfiles", "storex.contrib.django"]
    urlpatterns = [..., path("", include("storex.contrib.django.urls"))]
    STOREX = {"URL": "http://127.0.0.1:8000"}      # a running StoreX service, or
    STOREX = {"BUNDLE": "models"}                  # a bundle folder (or registry) on disk

``/recommend/<user_id>/`` answers JSON; in a template, ``{% load storex %}`` and
``{% storex_recommendations user_id %}`` render the block, which loads itself with
``fetch``. Settings: see :mod:`storex.contrib.django.conf`.
"""
