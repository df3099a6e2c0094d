"""The one error alert senders raise."""

from __future__ import annotations

from monitor.errors import MonitorError


class AlertFailed(MonitorError):
    """An alert could not be delivered.

    ``retryable``: whether trying again later may succeed (a timeout, a 5xx, a rate limit) or not
    (a rejected token, a chat the bot was removed from, a 4xx). ``retry_after``: seconds the
    receiver asked us to wait (HTTP ``Retry-After``, Bot API ``parameters.retry_after``), if it
    said. ``status``: the HTTP status or Bot API error code, if there was one.

    The message never holds a URL, token or secret: senders describe the target by its kind
    ("webhook", "Bot API") and the status code only.
    """

    def __init__(
        self,
        message: str,
        retryable: bool,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.message, self.retryable, self.retry_after, self.status))


def _rebuild(
    message: str, retryable: bool, retry_after: float | None, status: int | None
) -> AlertFailed:
    return AlertFailed(message, retryable, retry_after=retry_after, status=status)
