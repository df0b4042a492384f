"""Client-area pages of the dns app."""

from django.views.generic import TemplateView

from accounts.mixins import CustomerRequiredMixin


class ZoneListView(CustomerRequiredMixin, TemplateView):
    template_name = "dns/zone_list.html"
