"""One client connection: framing, handshake, encrypted RPC, service messages, pushes."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import struct
from typing import TYPE_CHECKING

from telethon.extensions import BinaryReader
from telethon.tl import TLObject, functions, types
from telethon.tl.core import GzipPacked, MessageContainer

from . import handlers
from .errors import RpcError
from .handshake import Handshake, HandshakeError
from .models import AuthKeyRecord
from .session import DecryptError, MsgIdClock, ServerSession, auth_key_id
from .transport import FullTransport, TransportError

if TYPE_CHECKING:
    from .server import TelegramTestServer

log = logging.getLogger(__name__)

RPC_RESULT = 0xF35C6D01
VECTOR = 0x1CB5C415
BOOL_TRUE = 0x997275B5
BOOL_FALSE = 0xBC799737
GZIP_THRESHOLD = 1024

# Wrappers whose inner ``query`` is the real request.
_WRAPPERS = (
    functions.InvokeWithLayerRequest,
    functions.InitConnectionRequest,
    functions.InvokeWithoutUpdatesRequest,
    functions.InvokeAfterMsgRequest,
    functions.InvokeAfterMsgsRequest,
)


def serialize_result(result: object) -> bytes:
    """A handler's result as TL bytes: objects, bools, and vectors of objects or longs."""
    if isinstance(result, bool):
        return struct.pack("<I", BOOL_TRUE if result else BOOL_FALSE)
    if isinstance(result, list):
        parts = [struct.pack("<Ii", VECTOR, len(result))]
        for item in result:
            parts.append(struct.pack("<q", item) if isinstance(item, int) else bytes(item))
        return b"".join(parts)
    if isinstance(result, TLObject):
        return bytes(result)
    raise TypeError(f"cannot serialize handler result {result!r}")


class ClientConnection:
    """Serves one TCP connection until the client goes away or the server stops."""

    def __init__(
        self, server: TelegramTestServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._server = server
        self._world = server.world
        self._transport = FullTransport(reader, writer)
        self._handshake = Handshake(server.rsa_key)
        self._auth: AuthKeyRecord | None = None
        self._session: ServerSession | None = None
        self._plain_clock = MsgIdClock()

    # Subscriber protocol (World pushes updates through it).

    @property
    def user_id(self) -> int | None:
        if self._auth is None or self._auth.revoked or self._session is None:
            return None
        if self._world.auth_keys.get(self._auth.key.key_id) is not self._auth:
            return None
        return self._auth.user_id

    @property
    def auth_key_id(self) -> int | None:
        return self._auth.key.key_id if self._auth is not None else None

    def push(self, obj: TLObject) -> None:
        self._send(bytes(obj), content_related=True, response=False)

    # Main loop.

    async def run(self) -> None:
        self._world.subscribe(self)
        try:
            while True:
                packet = await self._transport.read_packet()
                if len(packet) < 8:
                    raise TransportError("short packet")
                if auth_key_id(packet) == 0:
                    self._handle_plain(packet)
                else:
                    await self._handle_encrypted(packet)
                await self._transport.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (TransportError, HandshakeError) as e:
            log.warning("closing connection: %s", e)
        except asyncio.CancelledError:
            pass
        finally:
            self._world.unsubscribe(self)
            self._transport.close()

    def close(self) -> None:
        self._transport.close()

    def abort(self) -> None:
        """Drop the connection abruptly (no goodbye, unsent data discarded)."""
        self._transport.abort()

    # Plain (handshake) messages.

    def _handle_plain(self, packet: bytes) -> None:
        with BinaryReader(packet[20:]) as reader:
            request = reader.tgread_object()
        answer, auth_key = self._handshake.handle(request)
        if auth_key is not None:
            self._world.register_auth_key(auth_key)
            log.debug("new auth key %d", auth_key.key_id)
        body = bytes(answer)
        msg_id = self._plain_clock.next_msg_id(response=True)
        self._transport.write_packet(struct.pack("<qqi", 0, msg_id, len(body)) + body)

    # Encrypted messages.

    async def _handle_encrypted(self, packet: bytes) -> None:
        record = self._world.auth_keys.get(auth_key_id(packet))
        if record is None:
            log.info("unknown auth key %d: answering -404", auth_key_id(packet))
            self._transport.write_transport_error(-404)
            return
        if self._session is None or self._session.auth_key.key_id != record.key.key_id:
            self._session = ServerSession(record.key)
        self._auth = record
        record.used = True
        try:
            message = self._session.decrypt(packet)
        except DecryptError as e:
            log.warning("dropping undecryptable message: %s", e)
            return
        if message.session_id != self._session.session_id:
            self._session.session_id = message.session_id
            self._send(
                bytes(
                    types.NewSessionCreated(
                        first_msg_id=message.msg_id,
                        unique_id=int.from_bytes(os.urandom(8), "little", signed=True),
                        server_salt=self._session.salt,
                    )
                ),
                content_related=True,
                response=False,
            )
        await self._process(message.msg_id, message.body)

    async def _process(self, msg_id: int, body: bytes) -> None:
        constructor = struct.unpack("<I", body[:4])[0]
        if constructor == MessageContainer.CONSTRUCTOR_ID:
            count = struct.unpack("<i", body[4:8])[0]
            pos = 8
            for _ in range(count):
                inner_id, _seq, length = struct.unpack("<qii", body[pos : pos + 16])
                await self._process(inner_id, body[pos + 16 : pos + 16 + length])
                pos += 16 + length
            return
        if constructor == GzipPacked.CONSTRUCTOR_ID:
            with BinaryReader(body) as reader:
                await self._process(msg_id, GzipPacked.read(reader))
            return
        with BinaryReader(body) as reader:
            try:
                obj = reader.tgread_object()
            except Exception as e:
                log.warning("cannot parse client message %08x: %s", constructor, e)
                self._send_rpc_error(msg_id, 400, "INPUT_CONSTRUCTOR_INVALID")
                return
        await self._handle_object(msg_id, obj)

    async def _handle_object(self, msg_id: int, obj: TLObject) -> None:
        if isinstance(obj, types.MsgsAck):
            return
        if isinstance(obj, functions.PingRequest | functions.PingDelayDisconnectRequest):
            self._send(
                bytes(types.Pong(msg_id=msg_id, ping_id=obj.ping_id)),
                content_related=True,
                response=True,
            )
            return
        if isinstance(obj, types.MsgsStateReq | types.MsgResendReq | types.HttpWait):
            return
        if isinstance(obj, functions.DestroySessionRequest):
            self._send_rpc_result(msg_id, bytes(types.DestroySessionOk(obj.session_id)))
            return
        request = obj
        while isinstance(request, _WRAPPERS):
            request = request.query
        await self._invoke(msg_id, request)

    async def _invoke(self, msg_id: int, request: TLObject) -> None:
        assert self._auth is not None
        name = handlers.method_name(request)
        self._world.count_request(name)
        try:
            injected = self._world.take_injected_error(name)
            if injected is not None:
                raise injected
            entry = handlers.lookup(request)
            if entry is None:
                self._world.unimplemented.append(name)
                log.warning("test server does not implement %s", name)
                raise RpcError(400, "METHOD_NOT_IMPLEMENTED_BY_TEST_SERVER")
            fn, needs_auth = entry
            ctx = handlers.RequestContext(world=self._world, auth=self._auth, msg_id=msg_id)
            if needs_auth:
                ctx.require_user()
            result = fn(ctx, request)
            if inspect.isawaitable(result):
                result = await result
        except RpcError as e:
            log.debug("%s -> rpc_error %d %s", name, e.code, e.message)
            self._send_rpc_error(msg_id, e.code, e.message)
            return
        except Exception as e:
            # A bug in the test server, not a Telegram behaviour: answer 400 (Telethon would
            # retry a 500) and record it so fixtures can fail the test.
            log.exception("handler for %s crashed", name)
            self._world.handler_errors.append(f"{name}: {e!r}")
            self._send_rpc_error(msg_id, 400, "TEST_SERVER_HANDLER_CRASHED")
            return
        if self._world.take_lost_answer(name):
            log.info("%s done, dropping the connection instead of answering", name)
            self.abort()
            return
        payload = serialize_result(result)
        if len(payload) > GZIP_THRESHOLD and not isinstance(result, types.upload.File):
            payload = bytes(GzipPacked(payload))
        self._send_rpc_result(msg_id, payload)

    # Output.

    def _send_rpc_result(self, req_msg_id: int, payload: bytes) -> None:
        self._send(
            struct.pack("<Iq", RPC_RESULT, req_msg_id) + payload,
            content_related=True,
            response=True,
        )

    def _send_rpc_error(self, req_msg_id: int, code: int, message: str) -> None:
        self._send_rpc_result(req_msg_id, bytes(types.RpcError(code, message)))

    def _send(self, payload: bytes, *, content_related: bool, response: bool) -> None:
        if self._session is None or self._session.session_id is None:
            return
        if not response and len(payload) > GZIP_THRESHOLD:
            payload = bytes(GzipPacked(payload))
        self._transport.write_packet(
            self._session.encrypt(payload, content_related=content_related, response=response)
        )
