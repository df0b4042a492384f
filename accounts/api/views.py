"""Account API: one APIView per operation with nested input/output serializers."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import HasScope
from accounts.selectors import customer_get_for_user


class MeApi(APIView):
    """The logged-in user and their customer profile."""

    permission_classes = [IsAuthenticated, HasScope]  # the `read` scope

    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        email_verified = serializers.BooleanField()
        name = serializers.CharField(allow_null=True)
        company = serializers.CharField(allow_null=True)
        country = serializers.CharField(allow_null=True)
        preferred_currency = serializers.CharField(allow_null=True)

    @extend_schema(responses=OutputSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        customer = customer_get_for_user(user=request.user)
        data = {
            "email": request.user.email,
            "email_verified": request.user.is_email_verified,
            "name": customer.name if customer else None,
            "company": customer.company if customer else None,
            "country": str(customer.country) if customer else None,
            "preferred_currency": customer.preferred_currency if customer else None,
        }
        return Response(self.OutputSerializer(data).data)
