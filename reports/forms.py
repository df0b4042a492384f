"""The report pages' range-and-currency form and the export form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from reports.models import ReportExport
from reports.report_selectors import Period

MAX_DAYS = 3_660  # ten years: a range any report or export answers in reasonable time
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


def last_month(today: date) -> tuple[date, date]:
    """The calendar month before `today`'s: what an accountant asks for first."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in settings.CURRENCIES]


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    currency = forms.ChoiceField(choices=currency_choices)

    @classmethod
    def initial_values(cls) -> dict[str, Any]:
        start, end = last_month(timezone.localdate())
        return {"start": start, "end": end, "currency": settings.DEFAULT_CURRENCY}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        if min(start, end) < EARLIEST or max(start, end) > LATEST:
            raise forms.ValidationError(f"Dates go from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}.")
        if start > end:
            raise forms.ValidationError("The range must start on or before its last day.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"A range covers at most {MAX_DAYS:,} days.")
        return cleaned

    def period(self) -> Period:
        data = self.cleaned_data
        return Period(data["start"], data["end"], data["currency"])


class ExportForm(PeriodForm):
    kind = forms.ChoiceField(choices=ReportExport.Kind.choices, label="Export")
    format = forms.ChoiceField(choices=ReportExport.Format.choices)
    currency = forms.ChoiceField(
        choices=lambda: [("", "Every currency"), *currency_choices()], required=False
    )

    field_order = ["kind", "start", "end", "currency", "format"]

    @classmethod
    def initial_values(cls) -> dict[str, Any]:
        return {
            **super().initial_values(),
            "kind": ReportExport.Kind.INVOICES,
            "format": ReportExport.Format.XLSX,
        }
