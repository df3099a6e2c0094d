"""The RPC error a handler raises to answer ``rpc_error`` (mapped by Telethon to its classes)."""

from __future__ import annotations


class RpcError(Exception):
    """Answer the current request with ``rpc_error{error_code, error_message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def bad_request(message: str) -> RpcError:
    return RpcError(400, message)


def unauthorized(message: str = "AUTH_KEY_UNREGISTERED") -> RpcError:
    return RpcError(401, message)


def flood_wait(seconds: int) -> RpcError:
    return RpcError(420, f"FLOOD_WAIT_{seconds}")
