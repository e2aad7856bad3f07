"""URLs of the Django tests: the app's own, plus a page that renders the block."""

from django.http import HttpRequest, HttpResponse
from django.template import Context, Template
from django.urls import include, path

BLOCK = Template(
    "{% load storex %}<main>{% storex_recommendations user_id n=4 title='Picks' %}</main>"
)


def block(request: HttpRequest, user_id: str = "") -> HttpResponse:
    return HttpResponse(BLOCK.render(Context({"user_id": user_id})))


urlpatterns = [
    path("", include("storex.contrib.django.urls")),
    path("block/", block),
    path("block/<str:user_id>/", block),
]
