"""The portal's URLs plus /bench/trivial/, a view that does nothing (the baseline)."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from billing_portal.urls import urlpatterns as portal_urlpatterns


@csrf_exempt
def trivial(request):
    return HttpResponse(b"ok")


urlpatterns = [path("bench/trivial/", trivial), *portal_urlpatterns]
