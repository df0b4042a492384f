"""Client-area payment pages."""

from django.views.generic import ListView

from accounts.mixins import CustomerRequiredMixin
from payments.selectors import payment_list_for_customer


class PaymentListView(CustomerRequiredMixin, ListView):
    template_name = "payments/payment_list.html"
    context_object_name = "payments"
    paginate_by = 20

    def get_queryset(self):
        return payment_list_for_customer(customer=self.customer)
