"""The product list and a product page, each with the StoreX block for the shopper."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from shop.catalog import catalog

PAGE_SIZE = 24


def products(request: HttpRequest) -> HttpResponse:
    store = catalog()
    page = Paginator(store.products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "shop/products.html", {"page": page, **_shopper(request)})


def product(request: HttpRequest, item_id: str) -> HttpResponse:
    found = catalog().by_id.get(item_id)
    if found is None:
        raise Http404(f"No product {item_id!r}")
    return render(request, "shop/product.html", {"product": found, **_shopper(request)})


def _shopper(request: HttpRequest) -> dict[str, object]:
    """Who is shopping: ``?user=`` (a sample shopper by default, empty for a guest)."""
    shoppers = catalog().shoppers
    user = request.GET.get("user", shoppers[0] if shoppers else "")
    return {"user": user, "shoppers": shoppers}
