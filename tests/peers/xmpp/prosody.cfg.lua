-- Prosody for the tests: one virtual host, client connections on loopback only, no
-- server-to-server, everything it writes kept in its own temporary directory.
-- tests/fixtures/xmpp.py fills in the dollar-sign placeholders (Python's string.Template).
-- Options: https://prosody.im/doc/configure, https://prosody.im/doc/ports

-- The tests run as root in CI; Prosody refuses that unless told. It is started with -F
-- (in the foreground): the option daemonize is deprecated.
run_as_root = true
pidfile = "${workdir}/prosody.pid"
data_path = "${workdir}/data"
plugin_paths = {}
certificates = "${workdir}"

log = {
	{ levels = { min = "info" }, to = "console" };
}

-- Only client-to-server, on one free port of 127.0.0.1. Nothing else listens.
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s_port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = {}
http_ports = {}
https_ports = {}

modules_enabled = {
	"roster";
	"saslauth";
	"tls";
	"disco";
	"ping";
	"posix";
	"mam";
}
-- Every account keeps an archive of its messages (XEP-0313), as most servers do: where a
-- try that stopped before the portal recorded it finds what went out.
default_archive_policy = true
archive_expires_after = "1d"
modules_disabled = { "s2s"; "s2s_auth_certs"; "dialback"; "register" }

authentication = "internal_hashed"
storage = "internal"

-- STARTTLS with a certificate made for this run; the clients of the tests trust it.
c2s_require_encryption = true
ssl = {
	certificate = "${workdir}/localhost.crt";
	key = "${workdir}/localhost.key";
}

-- No limits: the tests sign in many times in a row from one address.
limits = {}

VirtualHost "localhost"
