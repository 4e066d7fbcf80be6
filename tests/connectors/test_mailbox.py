"""A person's mailbox: the settings found as Thunderbird finds them, and the login checked
against a real IMAP server (Dovecot) and a real SMTP submission server (aiosmtpd)."""

from __future__ import annotations

import itertools

import pytest

from connectors._addresses import AddressPolicy
from connectors._autoconfig import autoconfig, autoconfig_urls, guess, parse_autoconfig
from connectors._mailbox import MailboxFailure, MailboxSettings, MailServer, check_login
from connectors.base import Context
from portal.net import guarded_client
from tests.fixtures.feeds import serving, static
from tests.fixtures.imap import IMAPServer
from tests.fixtures.network import FakeDNS
from tests.fixtures.peers import free_port
from tests.fixtures.smtp import Submission, submission

LOCAL = Context(addresses=AddressPolicy(allow_loopback=True))
_numbers = itertools.count(1)

CONFIG = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.example.org</hostname><port>143</port><socketType>plain</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.org</hostname><port>143</port><socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>mail.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType>
      <authentication>OAuth2</authentication><authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>oauth.example.org</hostname><port>465</port><socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname><port>587</port><socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


def test_the_settings_of_an_autoconfig_file_are_read_as_thunderbird_reads_them():
    found = parse_autoconfig(CONFIG, "ada@example.org")
    assert found == MailboxSettings(
        MailServer("mail.example.org", 993, "tls"),
        MailServer("smtp.example.org", 587, "starttls"),
        "ada@example.org",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<clientConfig/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig><emailProvider/></clientConfig>',
        CONFIG.replace(b'type="smtp"', b'type="other"'),
        CONFIG.replace(b"STARTTLS", b"plain").replace(b"SSL", b"plain"),
    ],
)
def test_a_file_without_usable_servers_gives_nothing(body):
    assert parse_autoconfig(body, "ada@example.org") is None


def test_the_domain_is_asked_where_thunderbird_asks_in_its_order():
    assert autoconfig_urls("ada+news@example.org") == [
        "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=ada%2Bnews@example.org",
        "https://example.org/.well-known/autoconfig/mail/config-v1.1.xml",
    ]
    assert guess("ada@example.org") == MailboxSettings(
        MailServer("imap.example.org", 993, "tls"),
        MailServer("smtp.example.org", 465, "tls"),
        "ada@example.org",
    )


async def test_autoconfig_takes_the_first_address_that_serves_a_file():
    async with serving({"/first": static(b"missing", {}), "/second": static(CONFIG)}) as site:
        site.routes.pop("/first")  # answered 404
        async with guarded_client(policy=LOCAL.addresses) as http:
            urls = [site.url("/first"), site.url("/second")]
            found = await autoconfig("ada@example.org", http, urls)
            nothing = await autoconfig("ada@example.org", http, [site.url("/first")])
    assert found is not None and found.imap.host == "mail.example.org"
    assert nothing is None
    assert [path for path, _ in site.requests] == ["/first", "/second", "/first"]


async def test_autoconfig_never_reaches_a_private_address():
    async with (
        serving({"/config": static(CONFIG)}) as site,
        guarded_client(policy=AddressPolicy()) as http,
    ):
        assert await autoconfig("ada@example.org", http, [site.url("/config")]) is None
    assert site.requests == []


# -- logging in ------------------------------------------------------------------------------


def _accounts(imap_server: IMAPServer, submission_server: Submission) -> tuple[str, str]:
    number = next(_numbers)
    password = f"correct horse {number}"
    login = imap_server.add_user(f"check{number}", password)
    submission_server.add_user(login, password)
    return login, password


def _settings(
    imap_server: IMAPServer, relay: Submission, login: str, **changes: MailServer
) -> MailboxSettings:
    return MailboxSettings(
        changes.get("imap", MailServer(imap_server.host, imap_server.port, "none")),
        changes.get("smtp", MailServer(relay.host, relay.port, "none")),
        login,
    )


async def test_a_mailbox_logs_in_on_both_servers(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    await check_login(_settings(imap_server, submission_server, login), password, context=LOCAL)


async def _failure(settings: MailboxSettings, password: str, context: Context = LOCAL):
    with pytest.raises(MailboxFailure) as caught:
        await check_login(settings, password, context=context)
    return caught.value.kind, caught.value.protocol, caught.value.field


async def test_a_wrong_password_is_told_apart_for_each_server(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    settings = _settings(imap_server, submission_server, login)
    assert await _failure(settings, password + "!") == ("login", "imap", "password")
    submission_server.logins[login] = "another password"
    assert await _failure(settings, password) == ("login", "smtp", "password")


async def test_a_closed_port_is_unreachable(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    closed = MailServer("127.0.0.1", free_port(), "none")
    settings = _settings(imap_server, submission_server, login, imap=closed)
    assert await _failure(settings, password) == ("unreachable", "imap", "imap_host")
    settings = _settings(imap_server, submission_server, login, smtp=closed)
    assert await _failure(settings, password) == ("unreachable", "smtp", "smtp_host")


async def test_tls_with_a_server_that_speaks_none_fails_as_tls(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    for security in ("tls", "starttls"):
        imap = MailServer(imap_server.host, imap_server.port, security)  # type: ignore[arg-type]
        settings = _settings(imap_server, submission_server, login, imap=imap)
        assert await _failure(settings, password) == ("tls", "imap", "imap_security")
        smtp = MailServer(submission_server.host, submission_server.port, security)  # type: ignore[arg-type]
        settings = _settings(imap_server, submission_server, login, smtp=smtp)
        assert await _failure(settings, password) == ("tls", "smtp", "smtp_security")


async def test_a_server_that_takes_no_password_in_clear_says_so(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    with submission(require_tls=True) as strict:
        strict.add_user(login, password)
        settings = _settings(imap_server, strict, login)
        assert await _failure(settings, password) == ("plaintext", "smtp", "smtp_security")


async def test_a_private_address_is_never_connected_to(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    public = Context(addresses=AddressPolicy(resolver=FakeDNS({"mail.example.org": ["10.0.0.7"]})))
    inside = MailServer("mail.example.org", 993, "tls")
    settings = _settings(imap_server, submission_server, login, imap=inside)
    assert await _failure(settings, password, public) == ("private", "imap", "imap_host")
    loopback = MailServer("127.0.0.1", imap_server.port, "tls")
    settings = _settings(imap_server, submission_server, login, imap=loopback)
    assert await _failure(settings, password, public) == ("private", "imap", "imap_host")


async def test_no_encryption_is_only_for_servers_on_this_machine(imap_server, submission_server):
    login, password = _accounts(imap_server, submission_server)
    names = FakeDNS({"mail.example.org": ["93.184.216.34"]})
    local = Context(addresses=AddressPolicy(allow_loopback=True, resolver=names))
    outside = MailServer("mail.example.org", 143, "none")
    settings = _settings(imap_server, submission_server, login, imap=outside)
    assert await _failure(settings, password, local) == ("insecure", "imap", "imap_security")
    with pytest.raises(MailboxFailure) as caught:
        settings.checked(context=Context())
    assert (caught.value.kind, caught.value.field) == ("insecure", "imap_security")


def test_settings_are_kept_as_people_write_them_or_refused_by_field():
    written = MailboxSettings(
        MailServer(" IMAP.Example.ORG. ", 993, "tls"),
        MailServer("smtp.bücher.example", 587, "starttls"),
        " ada@example.org ",
    )
    assert written.checked(context=Context()) == MailboxSettings(
        MailServer("imap.example.org", 993, "tls"),
        MailServer("smtp.xn--bcher-kva.example", 587, "starttls"),
        "ada@example.org",
    )
    assert MailboxSettings.from_dict(written.as_dict()) == written
    for bad, field in [
        (MailServer("not a host", 993, "tls"), "imap_host"),
        (MailServer("imap.example.org", 0, "tls"), "imap_port"),
    ]:
        with pytest.raises(MailboxFailure) as caught:
            MailboxSettings(bad, written.smtp, "ada").checked(context=Context())
        assert caught.value.field == field
    with pytest.raises(MailboxFailure) as caught:
        MailboxSettings(written.imap, written.smtp, " ").checked(context=Context())
    assert caught.value.field == "username"
