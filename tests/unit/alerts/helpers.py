"""Alert test helpers: hits, a real local HTTP server, a fake outbox, a fake clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.domain import (
    AlertDelivery,
    HashType,
    Hit,
    MediaKind,
    ReviewStatus,
    SightingSource,
    SourceKind,
    Tier,
    Variant,
)

SHA256 = "3f2a9c1b7e" + "ab" * 27
ENTRY_PDQ = "f" * 64
QUERY_PDQ = "e" * 64
POSTED = datetime(2024, 8, 26, 3, 0, 0, tzinfo=UTC)
DETECTED = datetime(2024, 8, 26, 3, 0, 5, tzinfo=UTC)


def make_source(**changes: Any) -> SightingSource:
    source = SightingSource(
        kind=SourceKind.TELEGRAM,
        key="tg:-1001234567890:56:5012",
        chat_id=-1001234567890,
        chat_title="Example Channel",
        chat_username="examplechan",
        message_id=56,
        media_kind=MediaKind.PHOTO,
        posted_at=POSTED,
        link="https://t.me/examplechan/56",
    )
    return replace(source, **changes)


def make_hit(hit_id: int = 42, **changes: Any) -> Hit:
    hit = Hit(
        id=hit_id,
        sighting_id=7,
        entry_id=9,
        bank="ncmec-2024",
        hash_type=HashType.PDQ,
        distance=4,
        tier=Tier.NEAR_EXACT,
        variant=Variant.ORIGINAL,
        review_status=ReviewStatus.NEW,
        created_at=DETECTED,
        sha256=SHA256,
        case_id="C-77",
        label="series-x",
        entry_value=ENTRY_PDQ,
        query_value=QUERY_PDQ,
        source=make_source(),
    )
    return replace(hit, **changes)


def make_delivery(
    delivery_id: int, target: str = "webhook", *, hit: Hit | None = None, attempts: int = 0
) -> AlertDelivery:
    return AlertDelivery(
        id=delivery_id,
        hit=hit or make_hit(100 + delivery_id),
        target=target,
        status="pending",
        attempts=attempts,
        next_attempt_at=None,
    )


# --- a real HTTP server on 127.0.0.1 ---------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list: JSON; bytes: as is; None: {"ok": true}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (cut short at teardown)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LocalServer:
    """Answers with the scripted replies in order, then ``default``; records every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self.released = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server._lock:
                    server.requests.append(
                        Request(
                            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    reply = server.replies.pop(0) if server.replies else server.default
                if reply.delay:
                    server.released.wait(reply.delay)
                if reply.body is None:
                    payload = b'{"ok": true, "result": {}}'
                elif isinstance(reply.body, bytes):
                    payload = reply.body
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# --- the outbox and time -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: datetime = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def advance_to(self, when: datetime) -> None:
        self.now = max(self.now, when)


class FakeOutbox:
    """The store's outbox, in memory; behaves as the AlertOutbox protocol describes."""

    def __init__(self, *deliveries: AlertDelivery) -> None:
        self.rows: dict[int, AlertDelivery] = {d.id: d for d in deliveries}
        self.failures: list[tuple[int, str, datetime | None]] = []
        self.fail_claim: list[Exception] = []  # raised by claim_alerts, one per call
        self.claims: list[list[int]] = []  # the ids each claim took
        self.released: list[int] = []

    def add(self, delivery: AlertDelivery) -> None:
        self.rows[delivery.id] = delivery

    async def claim_alerts(
        self,
        *,
        now: datetime,
        limit: int,
        hold_seconds: float,
        skip_targets: Collection[str] = (),
    ) -> list[AlertDelivery]:
        if self.fail_claim:
            raise self.fail_claim.pop(0)
        due = sorted(
            (
                d
                for d in self.rows.values()
                if d.status == "pending"
                and (d.next_attempt_at is None or d.next_attempt_at <= now)
                and d.target not in skip_targets
            ),
            key=lambda d: d.id,
        )[:limit]
        until = now + timedelta(seconds=hold_seconds)
        for d in due:
            self.rows[d.id] = replace(d, next_attempt_at=until)
        self.claims.append([d.id for d in due])
        return [self.rows[d.id] for d in due]

    async def release_alerts(self, claimed: Sequence[AlertDelivery], *, at: datetime) -> int:
        released = 0
        for d in claimed:
            row = self.rows[d.id]
            if row.status == "pending" and row.next_attempt_at == d.next_attempt_at:
                self.rows[d.id] = replace(row, next_attempt_at=at)
                self.released.append(d.id)
                released += 1
        return released

    async def mark_alert_sent(self, delivery_id: int, *, at: datetime | None = None) -> None:
        row = self.rows[delivery_id]
        self.rows[delivery_id] = replace(row, status="sent", attempts=row.attempts + 1, sent_at=at)

    async def mark_alert_failed(
        self, delivery_id: int, error: str, *, next_attempt_at: datetime | None
    ) -> None:
        row = self.rows[delivery_id]
        self.failures.append((delivery_id, error, next_attempt_at))
        self.rows[delivery_id] = replace(
            row,
            status="pending" if next_attempt_at is not None else "failed",
            attempts=row.attempts + 1,
            last_error=error,
            next_attempt_at=next_attempt_at,
        )

    def status(self, delivery_id: int) -> str:
        return self.rows[delivery_id].status
