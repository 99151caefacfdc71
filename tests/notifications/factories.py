"""Helpers of the notification tests: a real HTTP receiver on localhost (in a thread) that
answers a scripted list of statuses and records what it got, and the mails of the locmem
outbox by recipient."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core import mail


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the local server answers (``script``: a status per request, the last repeated;
    ``"sleep"`` waits ``sleep_seconds`` before answering 200) and what it received."""

    script: list[int | str]
    sleep_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def next_answer(self) -> int | str:
        index = min(len(self.received) - 1, len(self.script) - 1)
        return self.script[index]


@contextmanager
def webhook_receiver(*script: int | str, sleep_seconds: float = 2.0) -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (a free port) in a thread, for the duration."""
    receiver = Receiver(list(script) or [200], sleep_seconds=sleep_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            receiver.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, body)
            )
            answer = receiver.next_answer()
            if answer == "sleep":
                time.sleep(receiver.sleep_seconds)
                answer = 200
            try:
                self.send_response(int(answer))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except BrokenPipeError:  # the client timed out and went away: that was the point
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/labelforce"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def with_email(labeler):
    """``labeler`` with an e-mail address (``make_labeler`` makes none): <username>@example.test."""
    user = labeler.user
    user.email = f"{user.username}@example.test"
    user.save(update_fields=["email"])
    return labeler
