"""Staff alerts about committed hits: to a staff chat, through a bot, to a webhook.

The store keeps an outbox (one ``alert_deliveries`` row per hit and target, written with the
hit); ``AlertDispatcher`` sends what is due through the ``Sender`` of each target and records
the outcome, retrying with backoff. Alerts never carry media.

    message     what an alert says (plain text, JSON payloads, their keys)
    signing     the webhook HMAC signature and how a receiver verifies it
    webhook     WebhookSender
    botapi      BotApiSender
    senders     the Sender protocol, ChatSender, build_senders
    dispatcher  AlertDispatcher, the AlertOutbox protocol the store implements
"""

from monitor.alerts.botapi import BotApiSender
from monitor.alerts.dispatcher import AlertDispatcher, AlertOutbox, tier_alerted
from monitor.alerts.errors import AlertFailed
from monitor.alerts.message import (
    DAEMON_STOPPED,
    FLOOD_WAIT,
    SESSION_REVOKED,
    SYSTEM_EVENTS,
    alert_payload,
    alert_text,
    system_payload,
    system_text,
)
from monitor.alerts.senders import ChatSender, Sender, build_senders, chat_failure
from monitor.alerts.signing import sign, verify_signature
from monitor.alerts.webhook import WebhookSender

__all__ = [
    "DAEMON_STOPPED",
    "FLOOD_WAIT",
    "SESSION_REVOKED",
    "SYSTEM_EVENTS",
    "AlertDispatcher",
    "AlertFailed",
    "AlertOutbox",
    "BotApiSender",
    "ChatSender",
    "Sender",
    "WebhookSender",
    "alert_payload",
    "alert_text",
    "build_senders",
    "chat_failure",
    "sign",
    "system_payload",
    "system_text",
    "tier_alerted",
    "verify_signature",
]
