"""``{% storex_recommendations user_id %}``: the "Recommended for You" block.

The block renders at once with a loading note and fills itself from
``/recommend/<user_id>/`` in the browser, so a slow or absent recommender never delays the
page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import template
from django.urls import reverse

from storex.contrib.django.conf import storex_settings

register = template.Library()


@register.inclusion_tag("storex/recommendations.html")
def storex_recommendations(
    user_id: Any, n: int | None = None, title: str = "Recommended for You"
) -> dict[str, Any]:
    count = n or storex_settings().count
    url = None
    if user_id not in (None, ""):
        url = f"{reverse('storex:recommend', args=[str(user_id)])}?n={int(count)}"
    return {"url": url, "title": title, "block_id": f"storex-{uuid.uuid4().hex[:8]}"}
