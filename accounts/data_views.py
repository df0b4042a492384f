"""Client-area pages of the customer's data rights: ask for an archive of all their data,
see how it is coming along, and download it through the signed link the email carries.
Services: accounts/data_rights.py (the build itself is billing's task)."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts import data_rights
from accounts.errors import AccountError
from accounts.mixins import CustomerRequiredMixin
from accounts.models import DataExport
from billing_portal.common.request import RequestMeta

HISTORY = 5  # exports listed on the page


class DataExportView(CustomerRequiredMixin, View):
    template_name = "accounts/data_export.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        exports = list(DataExport.objects.filter(customer=self.customer)[:HISTORY])
        latest = exports[0] if exports else None
        context = {
            "exports": exports,
            "latest": latest,
            "download_path": (
                data_rights.data_export_download_path(latest)
                if latest and latest.status == DataExport.Status.READY
                else ""
            ),
            "days": data_rights.export_days(),
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            data_rights.data_export_request(
                customer=self.customer, meta=RequestMeta.from_request(request)
            )
        except AccountError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, "We are preparing your archive; we will email you a link when it is ready."
            )
        return redirect("accounts:data_export")


class DataExportDownloadView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        export = data_rights.data_export_for_download(customer=self.customer, token=token)
        if export is None:
            raise Http404("This link is invalid or has expired.")
        storage = data_rights.export_storage()
        if not storage.exists(export.file_name):
            raise Http404("This archive is no longer available.")
        data_rights.data_export_downloaded(export=export, meta=RequestMeta.from_request(request))
        response = FileResponse(
            storage.open(export.file_name, "rb"),
            as_attachment=True,
            filename=f"my-data-{export.finished_at:%Y-%m-%d}.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "private, no-store"
        return response
