"""Sending text messages (phone verification codes), behind one small interface.

``PORTAL_SMS_SENDER`` picks the sender:

- ``console`` (the embedded default): the message is written to the log at WARNING and kept in
  memory, so that a developer (or a test) can read the code; nothing leaves the machine;
- ``http``: the message is POSTed as JSON ``{"to": "+39…", "text": "…"}`` to
  ``PORTAL_SMS_GATEWAY_URL``, with ``Authorization: Bearer PORTAL_SMS_GATEWAY_TOKEN`` when a
  token is set. Any 2xx answer means the gateway took the message. A small adapter in front of
  a provider (Twilio, Vonage, an SMPP bridge, a phone running an SMS gateway app) speaks this.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import httpx

from portal import __version__
from portal.errors import PortalError

log = logging.getLogger(__name__)

KEPT_MESSAGES = 50


class SmsError(PortalError):
    """The message could not be handed over for delivery."""

    status_code = 502
    title = "Network unavailable"


@dataclass(frozen=True)
class Sms:
    to: str
    """E.164, like ``+393471234567``."""
    text: str


class SmsSender(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Hand one message over for delivery, or raise :class:`SmsError`."""


class ConsoleSender:
    """Writes each message to the log and keeps the last ones in memory."""

    def __init__(self, keep: int = KEPT_MESSAGES) -> None:
        self.sent: deque[Sms] = deque(maxlen=keep)

    async def send(self, to: str, text: str) -> None:
        self.sent.append(Sms(to, text))
        log.warning("text message for %s: %s", to, text)

    def last_to(self, to: str) -> Sms | None:
        """The last message sent to a number, if any."""
        return next((sms for sms in reversed(self.sent) if sms.to == to), None)


class HttpGatewaySender:
    """POSTs each message to an HTTP gateway as ``{"to": …, "text": …}``."""

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._transport = transport

    async def send(self, to: str, text: str) -> None:
        headers = {"user-agent": f"Portal/{__version__}"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, transport=self._transport, follow_redirects=False
            ) as client:
                response = await client.post(
                    self.url, json={"to": to, "text": text}, headers=headers
                )
        except httpx.TimeoutException as error:
            log.warning("SMS gateway did not answer in time: %s", type(error).__name__)
            raise SmsError(
                "The text message could not be sent: the SMS gateway did not answer in time. "
                "Try again in a moment."
            ) from error
        except httpx.HTTPError as error:
            log.warning("SMS gateway unreachable: %s", error)
            raise SmsError(
                "The text message could not be sent: the SMS gateway cannot be reached. "
                "Try again in a moment."
            ) from error
        if not response.is_success:
            log.warning("SMS gateway answered %s", response.status_code)
            raise SmsError(
                "The text message could not be sent: the SMS gateway answered %(status)d. "
                "Try again in a moment.",
                status=response.status_code,
            )


def make_sender(kind: str, *, url: str = "", token: str = "", timeout: float = 10.0) -> SmsSender:
    """The sender the settings name (``console`` or ``http``)."""
    if kind == "http":
        return HttpGatewaySender(url, token, timeout=timeout)
    return ConsoleSender()
