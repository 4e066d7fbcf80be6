"""Text-message senders: the console one of the embedded default, and the HTTP gateway one,
against a real HTTP server on the loopback."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.config import Settings
from portal.deps import phone_services
from portal.sms import ConsoleSender, HttpGatewaySender, SmsError
from tests.fixtures.app import make_settings


@dataclass
class Gateway:
    url: str
    received: list[dict[str, object]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            state.received.append(
                {
                    "path": self.path,
                    "body": body,
                    "authorization": self.headers.get("authorization"),
                    "content-type": self.headers.get("content-type"),
                }
            )
            time.sleep(state.delay)
            # A client that gave up waiting has closed the connection.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(state.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


async def test_console_sender_logs_the_message_and_keeps_it(caplog):
    sender = ConsoleSender(keep=2)
    with caplog.at_level(logging.WARNING, logger="portal.sms"):
        await sender.send("+393471234567", "Your Portal code is 123456.")
    assert "+393471234567" in caplog.text
    assert "123456" in caplog.text
    await sender.send("+12015550123", "two")
    await sender.send("+12015550123", "three")
    assert [sms.text for sms in sender.sent] == ["two", "three"]
    assert sender.last_to("+12015550123").text == "three"
    assert sender.last_to("+393471234567") is None


async def test_gateway_receives_json_with_the_bearer_token(gateway):
    sender = HttpGatewaySender(gateway.url, "gateway-token")
    await sender.send("+393471234567", "Your Portal code is 123456.")
    [request] = gateway.received
    assert request["path"] == "/sms"
    assert request["body"] == {"to": "+393471234567", "text": "Your Portal code is 123456."}
    assert request["authorization"] == "Bearer gateway-token"
    assert request["content-type"] == "application/json"


async def test_gateway_without_a_token_sends_no_authorization(gateway):
    await HttpGatewaySender(gateway.url).send("+393471234567", "hi")
    assert gateway.received[0]["authorization"] is None


@pytest.mark.parametrize("status", [400, 401, 500, 503])
async def test_a_gateway_error_is_a_clear_502(gateway, status):
    gateway.status = status
    with pytest.raises(SmsError) as info:
        await HttpGatewaySender(gateway.url).send("+393471234567", "hi")
    assert info.value.status_code == 502
    assert str(status) in info.value.message


async def test_a_slow_gateway_times_out_with_a_clear_502(gateway):
    gateway.delay = 1.0
    with pytest.raises(SmsError, match="did not answer in time") as info:
        await HttpGatewaySender(gateway.url, timeout=0.2).send("+393471234567", "hi")
    assert info.value.status_code == 502


async def test_an_unreachable_gateway_is_a_clear_502():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmsError, match="cannot be reached"):
        await HttpGatewaySender(f"http://127.0.0.1:{port}/sms", timeout=2).send("+39", "hi")


def test_settings_choose_the_sender(gateway):
    console = phone_services(make_settings())
    assert isinstance(console.sender, ConsoleSender)
    settings = make_settings(
        sms_sender="http", sms_gateway_url=gateway.url, sms_gateway_token="t", sms_gateway_timeout=3
    )
    http = phone_services(settings)
    assert isinstance(http.sender, HttpGatewaySender)
    assert (http.sender.url, http.sender.token, http.sender.timeout) == (gateway.url, "t", 3)


@pytest.mark.parametrize(
    "values",
    [
        {"sms_sender": "http"},
        {"sms_sender": "carrier-pigeon"},
        {"sms_sender": "http", "sms_gateway_url": "ftp://gateway.example.org"},
    ],
)
def test_bad_sms_settings_are_refused(values):
    with pytest.raises(ValueError, match="sms"):
        Settings(_env_file=None, secret_key="k" * 40, **values)  # type: ignore[call-arg]
