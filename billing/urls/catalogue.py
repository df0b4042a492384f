from django.urls import path

from billing.views import catalogue as views

# The namespace stays "orders": templates and links reverse orders:catalogue/product/cancel.
app_name = "orders"

urlpatterns = [
    path("", views.CatalogueView.as_view(), name="catalogue"),
    path("<int:pk>/cancel/", views.OrderCancelView.as_view(), name="cancel"),
    path("<slug:slug>/", views.ProductOrderView.as_view(), name="product"),
]
