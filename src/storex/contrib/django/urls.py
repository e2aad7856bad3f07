"""URLs of the app: include them at the site root so the block finds ``/recommend/...``."""

from django.urls import path

from storex.contrib.django import views

app_name = "storex"
urlpatterns = [path("recommend/<str:user_id>/", views.recommend, name="recommend")]
