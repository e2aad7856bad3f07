from django.urls import include, path

from shop import views

urlpatterns = [
    path("", views.products, name="products"),
    path("products/<str:item_id>/", views.product, name="product"),
    path("", include("storex.contrib.django.urls")),
]
