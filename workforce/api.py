"""Workforce API v1: who am I, the vendor portal's vendors and labelers, lifecycle commands.

Views parse input, call one service or selector and render output. Inputs are strict: a field
the caller may not set is a 400 naming it, so mass assignment fails loudly.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictSerializer, labeler_or_none, parse_input
from config.errors import Forbidden
from workforce import selectors, services
from workforce.models import Labeler, LabelerStatusChange, Skill, Vendor, VendorStatusChange
from workforce.permissions import IsOpsOrVendorManager, require_ops
from workforce.resources import PROFILE_COLUMNS

# -- output -------------------------------------------------------------------------------------


class VendorOut(serializers.ModelSerializer):
    labeler_count = serializers.IntegerField(read_only=True)
    active_labeler_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Vendor
        fields = [
            "id",
            *selectors.VENDOR_FIELDS,
            "status_changed_at",
            "labeler_count",
            "active_labeler_count",
            "created_at",
        ]


class LabelerOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    skills = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Labeler
        fields = [
            "id",
            "public_code",
            *PROFILE_COLUMNS,
            "status_changed_at",
            "created_at",
            "updated_at",
        ]


# What an invited labeler's login can do, said plainly wherever one is created (the API's 201
# answer, its documentation, the admin's add page).
INVITED_LOGIN_NOTE = (
    "The labeler is invited with no usable password: they cannot log in until they open an "
    "invitation link and choose their password there. Issue the link with POST "
    "/api/v1/labelers/{id}/invitation/ (or the admin's Invite action): it is shown once, works "
    "once, expires, and is mailed to the labeler when they have an e-mail address."
)


class LabelerCreatedOut(LabelerOut):
    """The labeler just created, with whether their login works and why not."""

    can_log_in = serializers.SerializerMethodField(
        help_text="False for an invited labeler until they accept an invitation link."
    )
    login_note = serializers.SerializerMethodField(help_text="Why the labeler cannot log in yet.")

    class Meta(LabelerOut.Meta):
        fields = [*LabelerOut.Meta.fields, "can_log_in", "login_note"]

    def get_can_log_in(self, obj: Labeler) -> bool:
        return obj.user.is_active and obj.user.has_usable_password()

    def get_login_note(self, obj: Labeler) -> str:
        return "" if self.get_can_log_in(obj) else INVITED_LOGIN_NOTE


class StatusChangeOut(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = LabelerStatusChange
        fields = ["id", "from_status", "to_status", "actor", "reason", "created_at"]

    def get_actor(self, obj: LabelerStatusChange) -> str | None:
        return obj.actor.username if obj.actor_id else None


class VendorStatusChangeOut(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = VendorStatusChange
        fields = ["id", "from_status", "to_status", "actor", "reason", "leases_ended", "created_at"]

    def get_actor(self, obj: VendorStatusChange) -> str | None:
        return obj.actor.username if obj.actor_id else None


# -- input --------------------------------------------------------------------------------------


class _LabelerFieldsIn(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    skills = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, max_length=100
    )
    languages = serializers.ListField(
        child=serializers.CharField(max_length=35), required=False, max_length=50
    )
    timezone = serializers.CharField(required=False, max_length=64)


class _StaffFieldsMixin(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Labeler.Kind.choices, required=False)
    vendor = serializers.SlugRelatedField(
        slug_field="slug", queryset=Vendor.objects.all(), required=False, allow_null=True
    )
    seniority = serializers.ChoiceField(choices=Labeler.Seniority.choices, required=False)


class LabelerCreateIn(_LabelerFieldsIn):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)


class LabelerCreateStaffIn(_StaffFieldsMixin, LabelerCreateIn):
    pass


class LabelerCreateManagerIn(LabelerCreateIn):
    vendor = serializers.SlugField(required=False)


class LabelerUpdateIn(_LabelerFieldsIn):
    pass


class LabelerUpdateStaffIn(_StaffFieldsMixin, _LabelerFieldsIn):
    pass


class InvitationIn(StrictSerializer):
    """No fields: the labeler is in the URL. Anything sent is a 400 naming it."""


class InvitationOut(serializers.Serializer):
    link = serializers.CharField(
        help_text="The invitation link. Shown only here, once: LabelForce keeps only its hash."
    )
    expires_at = serializers.DateTimeField()
    mailed = serializers.BooleanField(
        help_text="Whether the link is also mailed to the labeler's e-mail address."
    )
    superseded_previous = serializers.BooleanField(
        help_text="Issuing replaced an earlier link, which no longer works."
    )


class ReasonIn(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


# -- views --------------------------------------------------------------------------------------


class MeApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "email": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "managed_vendors": VendorOut(many=True),
                "labeler": LabelerOut(allow_null=True),
            },
        )
    )
    def get(self, request):
        user = request.user
        labeler = (
            Labeler.objects.select_related("user", "vendor")
            .prefetch_related("skills")
            .filter(user=user)
            .first()
        )
        managed = selectors.vendor_list_managed_by(actor=user)
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "email": user.email,
                "roles": selectors.user_roles(user),
                "managed_vendors": VendorOut(managed, many=True).data,
                "labeler": LabelerOut(labeler).data if labeler else None,
            }
        )


class VendorListApi(generics.ListAPIView):
    serializer_class = VendorOut

    def get_queryset(self):
        return selectors.vendor_list_for(actor=self.request.user)


class VendorDetailApi(generics.RetrieveAPIView):
    serializer_class = VendorOut

    def get_object(self):
        return selectors.vendor_get_for(actor=self.request.user, pk=self.kwargs["pk"])


class VendorHistoryApi(generics.ListAPIView):
    """The vendor's status history, newest first: ops, and the vendor's own managers (another
    vendor: 404)."""

    serializer_class = VendorStatusChangeOut
    pagination_class = None
    queryset = VendorStatusChange.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        vendor = selectors.vendor_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return selectors.vendor_history(vendor=vendor)


class _VendorTransitionApi(APIView):
    """POST {"reason": "..."} → the vendor after the transition (ops only; docs/operations.md,
    "Vendor status")."""

    service = None

    def post(self, request, pk: int):
        # Looked up first: a vendor the caller cannot see is a 404 (never a 403 that confirms
        # it exists); their own vendor's manager may read its status, not change it (403).
        vendor = selectors.vendor_get_for(actor=request.user, pk=pk)
        require_ops(request)
        data = parse_input(ReasonIn, request.data)
        type(self).service(actor=request.user, vendor=vendor, reason=data["reason"])
        return Response(VendorOut(selectors.vendor_get_for(actor=request.user, pk=pk)).data)


def _vendor_transition_schema(description: str):
    return extend_schema(
        request=ReasonIn,
        responses={
            200: VendorOut,
            400: OpenApiResponse(description="invalid: fields.reason (required)"),
            403: OpenApiResponse(description="permission_denied: operations managers only"),
            404: OpenApiResponse(description="not_found: no such vendor, or not the caller's"),
            409: OpenApiResponse(
                description="invalid_transition: the vendor's status does not allow it "
                "(offboarding is final)"
            ),
        },
        description=description,
    )


class VendorSuspendApi(_VendorTransitionApi):
    service = services.vendor_suspend

    @_vendor_transition_schema(
        "Suspend an active vendor: from the commit on, none of its labelers gets work (next-task "
        "answers 403 `vendor_inactive`) and their live leases are released. Reactivate undoes it."
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class VendorOffboardApi(_VendorTransitionApi):
    service = services.vendor_offboard

    @_vendor_transition_schema(
        "Offboard an active or suspended vendor, for good: its labelers get no more work and "
        "their live leases are released."
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class VendorReactivateApi(_VendorTransitionApi):
    service = services.vendor_reactivate

    @_vendor_transition_schema(
        "Reactivate a suspended vendor: its labelers get work again as their own status allows."
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class LabelerFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Labeler.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Labeler.Kind.choices)
    seniority = django_filters.ChoiceFilter(choices=Labeler.Seniority.choices)
    skill = django_filters.ModelChoiceFilter(
        field_name="skills", to_field_name="slug", queryset=Skill.objects.all()
    )
    vendor = django_filters.CharFilter(
        method="filter_vendor",
        max_length=64,
        help_text="The vendor's id or slug; a vendor the caller cannot see is a 400.",
    )
    external_id = django_filters.CharFilter()

    def filter_vendor(self, queryset, name, value):
        """``?vendor=`` by id (``1``) or slug (``acme``), among the vendors the caller sees
        (their own vendor, for a labeler). An unknown one is a 400 naming the field, never an
        empty list that reads like "no labelers"."""
        user = self.request.user
        lookup = {"pk": int(value)} if value.isdigit() and len(value) <= 18 else {"slug": value}
        vendors = Vendor.objects.filter(**lookup)
        if not selectors.is_ops(user):
            own = getattr(labeler_or_none(user), "vendor_id", None)
            vendors = vendors.filter(Q(pk__in=selectors.managed_vendor_ids(user)) | Q(pk=own))
        vendor = vendors.values_list("pk", flat=True).first()
        if vendor is None:
            raise serializers.ValidationError({"vendor": ["Unknown vendor: give its id or slug."]})
        return queryset.filter(vendor_id=vendor)

    class Meta:
        model = Labeler
        fields = ["status", "kind", "seniority", "skill", "vendor", "external_id"]


class LabelerListCreateApi(generics.ListAPIView):
    """GET lists the labelers the caller may see; POST creates one in status *invited*, who
    cannot log in yet (``INVITED_LOGIN_NOTE``)."""

    serializer_class = LabelerOut
    filterset_class = LabelerFilter

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), IsOpsOrVendorManager()]
        return super().get_permissions()

    def get_queryset(self):
        return selectors.labeler_list_for(actor=self.request.user)

    @extend_schema(
        request=LabelerCreateStaffIn,
        responses={201: LabelerCreatedOut},
        description="Create a labeler in status invited. " + INVITED_LOGIN_NOTE + " The answer "
        "says so: `can_log_in` is false and `login_note` explains why.",
    )
    def post(self, request):
        actor = request.user
        if selectors.is_ops(actor):
            data = parse_input(LabelerCreateStaffIn, request.data)
            kind = data.pop("kind", None) or (
                Labeler.Kind.VENDOR if data.get("vendor") else Labeler.Kind.INTERNAL
            )
        else:
            data = parse_input(LabelerCreateManagerIn, request.data)
            vendors = list(selectors.managed_vendors(actor))
            slug = data.pop("vendor", None)
            if slug is None and len(vendors) > 1:
                raise serializers.ValidationError(
                    {"vendor": ["You manage several vendors; say which one."]}
                )
            matches = [v for v in vendors if slug is None or v.slug == slug]
            if not matches:
                raise serializers.ValidationError({"vendor": ["Unknown vendor."]})
            data["vendor"] = matches[0]
            kind = Labeler.Kind.VENDOR
        timezone_name = data.pop("timezone", "UTC")
        labeler = services.labeler_create(
            actor=actor, kind=kind, timezone_name=timezone_name, **data
        )
        labeler = selectors.labeler_get_for(actor=actor, pk=labeler.pk)
        return Response(LabelerCreatedOut(labeler).data, status=status.HTTP_201_CREATED)


class LabelerDetailApi(APIView):
    @extend_schema(responses=LabelerOut)
    def get(self, request, pk: int):
        labeler = selectors.labeler_get_for(actor=request.user, pk=pk)
        return Response(LabelerOut(labeler).data)

    @extend_schema(request=LabelerUpdateStaffIn, responses=LabelerOut)
    def patch(self, request, pk: int):
        labeler = _managed_labeler(request, pk)
        schema = LabelerUpdateStaffIn if selectors.is_ops(request.user) else LabelerUpdateIn
        data = parse_input(schema, request.data, partial=True)
        services.labeler_update(actor=request.user, labeler=labeler, data=data)
        labeler = selectors.labeler_get_for(actor=request.user, pk=pk)
        return Response(LabelerOut(labeler).data)


class LabelerHistoryApi(generics.ListAPIView):
    serializer_class = StatusChangeOut
    pagination_class = None
    queryset = LabelerStatusChange.objects.none()  # for the schema; rows come from the selector

    def get_queryset(self):
        labeler = selectors.labeler_get_for(actor=self.request.user, pk=self.kwargs["pk"])
        return selectors.labeler_history(labeler=labeler)


class _LabelerTransitionApi(APIView):
    """POST {"reason": "..."} → the labeler after the transition; 409 when not allowed."""

    service = None

    @extend_schema(request=ReasonIn, responses=LabelerOut)
    def post(self, request, pk: int):
        labeler = _managed_labeler(request, pk)
        data = parse_input(ReasonIn, request.data)
        type(self).service(actor=request.user, labeler=labeler, reason=data["reason"])
        labeler = selectors.labeler_get_for(actor=request.user, pk=pk)
        return Response(LabelerOut(labeler).data)


class LabelerSuspendApi(_LabelerTransitionApi):
    service = services.labeler_suspend


class LabelerReactivateApi(_LabelerTransitionApi):
    service = services.labeler_reactivate


class LabelerOffboardApi(_LabelerTransitionApi):
    service = services.labeler_offboard


class LabelerActivateApi(_LabelerTransitionApi):
    service = services.labeler_activate


class LabelerInvitationApi(APIView):
    @extend_schema(
        # An empty serializer would drop the body from the schema; say it is an empty object.
        request={
            "application/json": {"type": "object", "properties": {}, "additionalProperties": False}
        },
        responses={
            201: InvitationOut,
            409: OpenApiResponse(
                description="labeler_not_invitable: the labeler can sign in already, or is "
                "suspended or offboarded."
            ),
        },
        description="Issue a one-time invitation link for an invited labeler (or one who never "
        "chose a password): opening it, the labeler chooses a password and moves to onboarding. "
        "The link is in this answer only; it expires after the configured days and works once. "
        "Issuing again replaces the previous link. The labeler must be the caller's to manage "
        "(another vendor's labeler: 404); a labeler who can already sign in, or is suspended or "
        "offboarded: 409 `labeler_not_invitable`.",
    )
    def post(self, request, pk: int):
        labeler = _managed_labeler(request, pk)
        parse_input(InvitationIn, request.data)
        issued = services.labeler_invitation_issue(
            actor=request.user, labeler=labeler, base_url=request.build_absolute_uri("/")
        )
        return Response(
            InvitationOut(
                {
                    "link": issued.link,
                    "expires_at": issued.invitation.expires_at,
                    "mailed": issued.mailed,
                    "superseded_previous": issued.superseded,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


# The earlier name of config.api.parse_input, still imported by qc.api.gold.
_validated = parse_input


def _managed_labeler(request, pk: int) -> Labeler:
    """The labeler if the caller manages it; 404 if they cannot see it; 403 if they can see it
    (it is their own profile) but not manage it."""
    labeler = selectors.labeler_get_for(actor=request.user, pk=pk)
    if not selectors.labeler_can_manage(actor=request.user, labeler=labeler):
        raise Forbidden("Only operations and the labeler's vendor manager can change a labeler.")
    return labeler
