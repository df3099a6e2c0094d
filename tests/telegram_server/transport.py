"""TCP "full" transport framing (Telethon's default ``ConnectionTcpFull``), server side.

Each packet is ``length:int32 | seq_no:int32 | payload | crc32:uint32`` (little endian), where
``length`` counts all four parts. Each direction numbers its packets from 0.
"""

from __future__ import annotations

import asyncio
import struct
from zlib import crc32


class TransportError(Exception):
    """The peer sent a malformed frame."""


class FullTransport:
    """Reads and writes TCP-full frames on one asyncio stream pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._send_seq = 0
        self._recv_seq = 0

    async def read_packet(self) -> bytes:
        """The next payload; raises ``asyncio.IncompleteReadError`` at end of stream."""
        header = await self._reader.readexactly(8)
        length, seq = struct.unpack("<ii", header)
        if length < 12 or length > 16 * 1024 * 1024:
            raise TransportError(f"bad packet length {length}")
        rest = await self._reader.readexactly(length - 8)
        body, checksum = rest[:-4], struct.unpack("<I", rest[-4:])[0]
        if crc32(header + body) != checksum:
            raise TransportError("bad CRC32")
        if seq != self._recv_seq:
            raise TransportError(f"bad transport seq {seq}, expected {self._recv_seq}")
        self._recv_seq += 1
        return body

    def write_packet(self, payload: bytes) -> None:
        """Frame and queue one payload (no await: usable from synchronous pushes)."""
        if self._writer.is_closing():
            return
        data = struct.pack("<ii", len(payload) + 12, self._send_seq) + payload
        self._send_seq += 1
        self._writer.write(data + struct.pack("<I", crc32(data)))

    def write_transport_error(self, code: int) -> None:
        """A 4-byte transport error such as -404 ("auth key not found")."""
        self.write_packet(struct.pack("<i", code))

    async def drain(self) -> None:
        if not self._writer.is_closing():
            await self._writer.drain()

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        """Drop the TCP connection at once (unsent data is discarded), as a crash would."""
        self._writer.transport.abort()
