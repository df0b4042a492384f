"""The staff report pages and accounting exports, under /admin/reports/ (issue 19): admin
pages (each wrapped in admin_view in reports/urls.py, so only signed-in staff reach them)
that also need the reports' own permissions: `reports.view_reports` for the reports,
`reports.export_reports` for exports. Figures: reports/report_selectors.py; exports:
reports/exports.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from billing_portal.common.request import RequestMeta
from reports import exports
from reports.forms import ExportForm, PeriodForm
from reports.report_selectors import (
    REPORTS,
    report_build,
    report_exports_for_user,
    report_titles,
)

VIEW = "reports.view_reports"
EXPORT = "reports.export_reports"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra: object) -> dict[str, object]:
    return {
        **admin.site.each_context(request),
        "title": title,
        "reports": report_titles(),
        "can_export": request.user.has_perm(EXPORT),
        **extra,
    }


@require_GET
def reports_index(request: HttpRequest) -> TemplateResponse:
    _require(request, VIEW)
    return TemplateResponse(request, "reports/index.html", _context(request, "Reports"))


@require_GET
def report_page(request: HttpRequest, slug: str) -> TemplateResponse:
    """One report over the range and currency of the query string (last month in the
    default currency when it has none). A bad range answers 400 with the form's errors."""
    _require(request, VIEW)
    if slug not in REPORTS:
        raise Http404("No such report.")
    given = any(name in request.GET for name in ("start", "end", "currency"))
    form = PeriodForm(request.GET if given else PeriodForm.initial_values())
    report = None
    if form.is_valid():
        report = report_build(slug=slug, period=form.period(), today=timezone.localdate())
    context = _context(
        request,
        REPORTS[slug][0],
        form=form,
        report=report,
        slug=slug,
        query=request.GET.urlencode(),
    )
    return TemplateResponse(request, "reports/report.html", context, status=200 if report else 400)


@require_http_methods(["GET", "POST"])
def exports_page(request: HttpRequest) -> HttpResponse:
    """The user's own exports with their progress, and the form asking for another."""
    _require(request, EXPORT)
    if request.method == "POST":
        form = ExportForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            exports.report_export_request(
                user=request.user,
                kind=data["kind"],
                fmt=data["format"],
                start=data["start"],
                end=data["end"],
                currency=data["currency"],
                meta=RequestMeta.from_request(request),
            )
            messages.success(request, "The export is being built; this page shows its progress.")
            return redirect("reports:exports")
        status = 400
    else:
        form, status = ExportForm(initial=ExportForm.initial_values()), 200
    mine = report_exports_for_user(user=request.user)
    context = _context(
        request,
        "Accounting exports",
        form=form,
        exports=mine,
        refresh=any(export.in_progress for export in mine),
    )
    return TemplateResponse(request, "reports/exports.html", context, status=status)


@require_GET
def export_download(request: HttpRequest, export_id: int) -> FileResponse:
    """The file, to the user who asked for it only (anyone else: 404, as if absent)."""
    _require(request, EXPORT)
    export = exports.report_export_for_download(user=request.user, export_id=export_id)
    storage = exports.export_storage()
    if export is None or not storage.exists(export.file_name):
        raise Http404("No such export.")
    exports.report_export_downloaded(
        export=export, user=request.user, meta=RequestMeta.from_request(request)
    )
    response = FileResponse(
        storage.open(export.file_name, "rb"),
        as_attachment=True,
        filename=exports.report_export_file_name(export),
        content_type=CONTENT_TYPES[export.format],
    )
    response["Cache-Control"] = "private, no-store"
    return response
