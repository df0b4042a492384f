from django.urls import path

from invoices import order_views

app_name = "orders"

urlpatterns = [
    path("", order_views.CatalogueView.as_view(), name="catalogue"),
    path("<int:pk>/cancel/", order_views.OrderCancelView.as_view(), name="cancel"),
    path("<slug:slug>/", order_views.ProductOrderView.as_view(), name="product"),
]
