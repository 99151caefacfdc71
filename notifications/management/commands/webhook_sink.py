"""``manage.py webhook_sink``: a vendor portal's receiving end for the demo and for trying
webhooks out locally. It listens on 127.0.0.1 (``--port``, 8765 by default), checks each POST's
``X-LabelForce-Signature`` against the secrets of the active endpoints whose URL points at it
(the check of docs/notifications.md), prints the event and answers 200 — or 401 when no secret
verifies, so LabelForce logs a failed attempt and retries.

Point an endpoint at it (``http://127.0.0.1:8765/hooks``) with ``WEBHOOK_ALLOW_PRIVATE=1``.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand

from notifications.models import WebhookEndpoint
from notifications.webhooks import SIGNATURE_HEADER, verify


def describe(body: bytes, signature: str, secrets: list[str]) -> tuple[int, str]:
    """The status to answer and a line to print, for a request with ``body`` and
    ``signature``, given the secrets it may be signed with."""
    if not any(verify(secret, body, signature) for secret in secrets):
        return 401, "REFUSED: no endpoint secret verifies the signature"
    event = json.loads(body)
    data = json.dumps(event.get("data"), sort_keys=True)
    return 200, f"verified {event.get('type')} {event.get('id')}: {data}"


class Command(BaseCommand):
    help = "Receive LabelForce webhooks on 127.0.0.1, verify their signature and print them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args, port: int, **options) -> None:
        command = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                secrets = list(
                    WebhookEndpoint.objects.filter(
                        url__contains=f"127.0.0.1:{port}", is_active=True
                    ).values_list("secret", flat=True)
                )
                status, line = describe(body, self.headers.get(SIGNATURE_HEADER, ""), secrets)
                command.stdout.write(line)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.stdout.write(f"Listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
