"""Behind a load balancer (issue 7), without one: hand-written PROXY protocol
v1 and v2 headers on `--listen ADDR:proxy` listeners (the address from the
header is the client everywhere: access log, FastCGI REMOTE_ADDR/REMOTE_PORT;
a missing, malformed or untrusted header closes the connection without a
response; v2 LOCAL and v1 UNKNOWN keep the socket's own peer),
`--proxy-from`, `--trust-forwarded` (X-Forwarded-For / Forwarded from trusted
peers only), `--health` with `--drain-delay` (503 and `Connection: close`
while still accepting, then the usual graceful stop), and `--metrics`
(Prometheus text exposition on a separate listener, exact request counts).
"""
import ipaddress
import json
import os
import re
import signal
import socket
import struct
import tempfile
import time
import unittest

from harness import Hearth, TempRoot, read_response, wait_until
from fcgi_app import FcgiApp

A_TXT = b"proxy protocol test file\n"
QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED_RE = re.compile(r'^(\S+) - - \[([^\]]+)\] ' + QUOTED + r' (\d{3}) (\d+|-) ' + QUOTED + ' ' + QUOTED + r'$')
MAIN_LISTEN_RE = re.compile(r"(?<!metrics )listening on (\S+):(\d+)")
METRICS_LISTEN_RE = re.compile(r"metrics listening on (\S+):(\d+)")
LOG_DEADLINE = 3.0  # the access log is flushed at least once a second
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def ipv6_loopback_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


HAS_IPV6 = ipv6_loopback_available()


# --- PROXY headers ------------------------------------------------------------

def v1(src, dst, sport, dport, proto=None):
    proto = proto or ("TCP6" if ":" in src else "TCP4")
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def tlv(t, value):
    return struct.pack("!BH", t, len(value)) + value


def v2(src=None, dst=None, sport=0, dport=0, command=0x1, tlvs=b"", version=0x2, fam=None, length=None):
    """A v2 header: command 0x1 PROXY / 0x0 LOCAL; addresses AF_INET or
    AF_INET6 (from src) over STREAM, or none (AF_UNSPEC)."""
    if src is None:
        fam_byte, addrs = 0x00, b""
    elif ":" in src:
        fam_byte = 0x21
        addrs = (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
                 + struct.pack("!HH", sport, dport))
    else:
        fam_byte = 0x11
        addrs = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
                 + struct.pack("!HH", sport, dport))
    if fam is not None:
        fam_byte = fam
    body = addrs + tlvs
    n = len(body) if length is None else length
    return V2_SIG + bytes([(version << 4) | command, fam_byte]) + struct.pack("!H", n) + body


# exactly what HAProxy 2.6 sends before a health check with send-proxy-v2
HAPROXY_CHECK_HEADER = V2_SIG + b"\x20\x00\x00\x00"


# --- clients ----------------------------------------------------------------------

def request_bytes(path="/a.txt", ua="-", method="GET", close=True, headers=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: proxy.test", "User-Agent: %s" % ua]
    lines += ["%s: %s" % h for h in headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(addr, source=None, timeout=5.0):
    if isinstance(addr, str):  # a Unix socket path
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def exchange(addr, data, source=None, timeout=5.0, pieces=None):
    """Send data (or the list pieces, one write each, 50 ms apart), read until
    the server closes. Returns the bytes received; a reset counts as a close."""
    s = connect(addr, source, timeout)
    try:
        if s.family != socket.AF_UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if pieces:
                for i, p in enumerate(pieces):
                    if i:
                        time.sleep(0.05)  # separate segments, to exercise a partial header
                    s.sendall(p)
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class Case(unittest.TestCase):
    """Each test starts what it needs through self.start()."""

    def setUp(self):
        self.root = TempRoot()
        self.root.write("a.txt", A_TXT)
        self.root.write("echo.fcgi", "# handled by fcgi_app.py\n", mode=0o644)
        self.tmp = tempfile.mkdtemp(prefix="hearth-proxy-")
        self.servers = []
        self.apps = []
        self.ua_no = 0

    def tearDown(self):
        for h in self.servers:
            h.stop()
        for a in self.apps:
            a.stop()
        self.root.cleanup()
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)

    def start(self, *args, listen="127.0.0.1:0:proxy", workers=0, access_log=True):
        """hearth with the given flags; returns it with .main (the address of
        its first listener) and .access (its access log path)."""
        argv = []
        for l in ([listen] if isinstance(listen, str) else listen):
            argv += ["--listen", l]
        access = os.path.join(self.tmp, "access-%d.log" % len(self.servers))
        argv += ["--access-log", access if access_log else "off", "--workers", str(workers), "--control", "off"]
        argv += [str(a) for a in args] + [self.root.path]
        h = Hearth(argv, ready=rb"(?<!metrics )listening on ")
        self.servers.append(h)
        h.access = access
        first = listen if isinstance(listen, str) else listen[0]
        if first.startswith("unix:"):
            h.main = first[5:-6] if first.endswith(":proxy") else first[5:]
        else:
            m = MAIN_LISTEN_RE.search(h.log_text())
            h.main = (m.group(1).strip("[]"), int(m.group(2)))
        return h

    def ua(self):
        """A User-Agent that tells this request's access log line apart."""
        self.ua_no += 1
        return "%s-%d" % (self._testMethodName, self.ua_no)

    def logged(self, h, ua, count=1):
        """The access log lines of the requests with User-Agent ua (polled
        until there are count of them)."""
        def find():
            out = []
            for line in read_text(h.access).splitlines():
                m = COMBINED_RE.match(line)
                if m and m.group(7) == ua:
                    out.append(dict(addr=m.group(1), request=m.group(3), status=int(m.group(4)), line=line))
            return out
        lines = wait_until(lambda: len(find()) >= count and find(), LOG_DEADLINE)
        self.assertTrue(lines, "fewer than %d access log lines for %s:\n%s\n--- error log:\n%s" % (
            count, ua, read_text(h.access)[-2000:], h.log_text()[-2000:]))
        return lines

    def client_of(self, h, header, source=None, **kw):
        """Send header + a GET, assert a 200 with the file; return the client
        address the access log shows."""
        ua = self.ua()
        raw = exchange(h.main, header + request_bytes(ua=ua, **kw), source=source)
        self.assertTrue(raw, "no response to %r\n%s" % (header, h.log_text()[-2000:]))
        status, _, body = parse_response(raw)
        self.assertEqual((status, body), (200, A_TXT), header)
        return self.logged(h, ua)[0]["addr"]

    def assertClosedSilently(self, h, data, source=None, pieces=None):
        t0 = time.monotonic()
        try:
            raw = exchange(h.main, data, source=source, pieces=pieces)
        except socket.timeout:
            self.fail("hearth kept the connection open after %r" % (data or pieces)[:80])
        self.assertEqual(raw, b"", "a response to %r" % (data or pieces)[:80])
        self.assertLess(time.monotonic() - t0, 4.5)
        self.assertTrue(h.alive(), h.log_text())


# ---------------------------------------------------------------------------------

class ProxyHeaderTest(Case):

    def setUp(self):
        super().setUp()
        self.h = self.start()

    def test_v1_tcp4(self):
        self.assertEqual(self.client_of(self.h, v1("192.0.2.10", "127.0.0.1", 40001, self.h.main[1])), "192.0.2.10")

    def test_v1_tcp6(self):
        self.assertEqual(self.client_of(self.h, v1("2001:db8::10", "2001:db8::1", 40002, 80)), "2001:db8::10")

    def test_v1_unknown_keeps_the_peer(self):
        self.assertEqual(self.client_of(self.h, b"PROXY UNKNOWN\r\n"), "127.0.0.1")

    def test_v2_tcp4_with_tlvs(self):
        tlvs = (tlv(0x01, b"http/1.1") + tlv(0x02, b"www.example.test") + tlv(0x04, b"\0" * 7)
                + tlv(0xE0, b"custom"))
        hdr = v2("198.51.100.20", "127.0.0.1", 40003, self.h.main[1], tlvs=tlvs)
        self.assertEqual(self.client_of(self.h, hdr), "198.51.100.20")

    def test_v2_tcp6(self):
        self.assertEqual(self.client_of(self.h, v2("2001:db8::20", "2001:db8::1", 40004, 443)), "2001:db8::20")

    def test_v2_local_keeps_the_peer(self):
        # what HAProxy's health checks send
        self.assertEqual(self.client_of(self.h, HAPROXY_CHECK_HEADER), "127.0.0.1")
        # LOCAL with addresses: they are ignored
        self.assertEqual(self.client_of(self.h, v2("192.0.2.99", "127.0.0.1", 1, 2, command=0x0)), "127.0.0.1")

    def test_header_in_pieces(self):
        ua = self.ua()
        hdr = v2("192.0.2.30", "127.0.0.1", 40005, 80, tlvs=tlv(0x02, b"x" * 40))
        raw = exchange(self.h.main, None, pieces=[hdr[:5], hdr[5:14], hdr[14:30], hdr[30:] + request_bytes(ua=ua)[:9],
                                                  request_bytes(ua=ua)[9:]])
        self.assertEqual(parse_response(raw)[0], 200, raw[:200])
        self.assertEqual(self.logged(self.h, ua)[0]["addr"], "192.0.2.30")
        ua = self.ua()
        hdr = v1("192.0.2.31", "127.0.0.1", 40006, 80)
        raw = exchange(self.h.main, None, pieces=[hdr[:3], hdr[3:20], hdr[20:], request_bytes(ua=ua)])
        self.assertEqual(parse_response(raw)[0], 200, raw[:200])
        self.assertEqual(self.logged(self.h, ua)[0]["addr"], "192.0.2.31")

    def test_keepalive_requests_keep_the_address(self):
        ua = self.ua()
        s = connect(self.h.main)
        try:
            s.sendall(v2("192.0.2.40", "127.0.0.1", 40007, 80) + request_bytes(ua=ua, close=False))
            st1, _, body1, rest = read_response(s)
            s.sendall(request_bytes(ua=ua, close=False))
            st2, _, body2, rest = read_response(s)
        finally:
            s.close()
        self.assertEqual((st1, body1, st2, body2), (200, A_TXT, 200, A_TXT))
        lines = self.logged(self.h, ua, count=2)
        self.assertEqual([l["addr"] for l in lines], ["192.0.2.40", "192.0.2.40"])

    def test_missing_header_closes(self):
        self.assertClosedSilently(self.h, request_bytes())
        self.assertClosedSilently(self.h, b"GET /a.txt HTTP/1.0\r\n\r\n")

    def test_malformed_headers_close(self):
        port = self.h.main[1]
        cases = [
            b"PROXY TCP4 192.0.2.1 127.0.0.1 1234\r\n",                 # a port missing
            b"PROXY TCP4 300.0.2.1 127.0.0.1 1234 %d\r\n" % port,       # not an address
            b"PROXY TCP4 192.0.2.1 127.0.0.1 99999 %d\r\n" % port,      # port out of range
            b"PROXY TCP9 192.0.2.1 127.0.0.1 1234 %d\r\n" % port,       # unknown protocol
            b"PROXY TCP4 2001:db8::1 ::1 1234 %d\r\n" % port,           # IPv6 under TCP4
            b"PROXY TCP6 192.0.2.1 127.0.0.1 1234 %d\r\n" % port,       # IPv4 under TCP6
            b"proxy tcp4 192.0.2.1 127.0.0.1 1234 %d\r\n" % port,       # lower case
            b"PROXY  TCP4 192.0.2.1 127.0.0.1 1234 %d\r\n" % port,      # two spaces
            b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 %d\n" % port,         # LF without CR
            b"PROXY TCP4 " + b"1" * 200 + b"\r\n",                     # longer than 107 bytes
            V2_SIG[:11] + b"X\x21\x11\x00\x0c" + b"\0" * 12,            # a wrong signature
            v2("192.0.2.1", "127.0.0.1", 1, 2, version=0x1),           # version 1 in binary form
            v2("192.0.2.1", "127.0.0.1", 1, 2, command=0x2),           # command 2
            v2("192.0.2.1", "127.0.0.1", 1, 2, length=4),              # too short for AF_INET
            v2("2001:db8::1", "::1", 1, 2, length=12),                 # too short for AF_INET6
            v2("192.0.2.1", "127.0.0.1", 1, 2, fam=0x71),              # no such family
        ]
        for hdr in cases:
            with self.subTest(header=hdr[:60]):
                self.assertClosedSilently(self.h, hdr + request_bytes())
        # longer than the decoder accepts (1024 bytes): closed, whatever follows
        big = v2("192.0.2.1", "127.0.0.1", 1, 2, tlvs=tlv(0xE0, b"z" * 3000))
        with self.subTest(header="v2 of %d bytes" % len(big)):
            self.assertClosedSilently(self.h, big + request_bytes())
        self.assertTrue(self.h.alive())
        # and the listener still works
        self.assertEqual(self.client_of(self.h, v1("192.0.2.50", "127.0.0.1", 40008, port)), "192.0.2.50")

    def test_fastcgi_sees_the_client(self):
        app = FcgiApp("127.0.0.1:0").start()
        self.apps.append(app)
        h = self.start("--fastcgi", "*.fcgi=" + app.address)
        raw = exchange(h.main, v1("192.0.2.77", "203.0.113.1", 45678, 8080) + request_bytes("/echo.fcgi"))
        status, _, body = parse_response(raw)
        self.assertEqual(status, 200, raw[:300])
        p = json.loads(body)["params"]
        self.assertEqual((p["REMOTE_ADDR"], p["REMOTE_PORT"]), ("192.0.2.77", "45678"), p)
        raw = exchange(h.main, v2("2001:db8::77", "2001:db8::1", 45679, 443) + request_bytes("/echo.fcgi"))
        p = json.loads(parse_response(raw)[2])["params"]
        self.assertEqual((p["REMOTE_ADDR"], p["REMOTE_PORT"]), ("2001:db8::77", "45679"), p)
        self.assertEqual(app.errors, [])

    def test_per_client_limit_counts_the_client(self):
        """Per-client limits count the address from the header, not the balancer's."""
        h = self.start("--max-connections-per-client", "1")
        held = []
        try:
            for src in ("192.0.2.61", "192.0.2.62"):  # two clients behind one peer: both served
                s = connect(h.main)
                held.append(s)
                s.sendall(v1(src, "127.0.0.1", 1, 80) + request_bytes(close=False))
                st, _, body, _ = read_response(s)
                self.assertEqual((st, body), (200, A_TXT), src)
            # a second connection of the same client: refused
            raw = exchange(h.main, v1("192.0.2.61", "127.0.0.1", 2, 80) + request_bytes())
            self.assertTrue(raw.startswith(b"HTTP/1.1 429 "), raw[:100])
        finally:
            for s in held:
                s.close()


class TrustTest(Case):

    def test_loopback_trusted_by_default(self):
        h = self.start()
        # all of 127.0.0.0/8 is loopback
        self.assertEqual(self.client_of(h, v1("192.0.2.1", "127.0.0.1", 1, 80), source="127.0.0.9"), "192.0.2.1")

    def test_untrusted_peer_is_closed(self):
        h = self.start("--proxy-from", "10.0.0.0/8")
        self.assertClosedSilently(h, v1("192.0.2.1", "127.0.0.1", 1, 80) + request_bytes())
        self.assertClosedSilently(h, v2("192.0.2.1", "127.0.0.1", 1, 80) + request_bytes())
        self.assertClosedSilently(h, HAPROXY_CHECK_HEADER + request_bytes())

    def test_proxy_from_list(self):
        h = self.start("--proxy-from", "10.0.0.0/8", "--proxy-from", "127.0.0.8/30")
        # 127.0.0.8/30 holds .8 to .11
        self.assertEqual(self.client_of(h, v1("192.0.2.2", "127.0.0.1", 1, 80), source="127.0.0.9"), "192.0.2.2")
        self.assertEqual(self.client_of(h, v2("192.0.2.3", "127.0.0.1", 1, 80), source="127.0.0.11"), "192.0.2.3")
        self.assertClosedSilently(h, v1("192.0.2.4", "127.0.0.1", 1, 80) + request_bytes(), source="127.0.0.12")
        self.assertClosedSilently(h, v1("192.0.2.4", "127.0.0.1", 1, 80) + request_bytes(), source="127.0.0.1")

    @unittest.skipUnless(HAS_IPV6, "no IPv6 loopback")
    def test_ipv6_peer(self):
        h = self.start(listen="[::1]:0:proxy")
        self.assertEqual(h.main[0], "::1")
        self.assertEqual(self.client_of(h, v1("192.0.2.5", "127.0.0.1", 1, 80)), "192.0.2.5")
        h2 = self.start("--proxy-from", "::1/128", listen="[::1]:0:proxy")
        self.assertEqual(self.client_of(h2, v2("2001:db8::5", "::1", 1, 80)), "2001:db8::5")
        h3 = self.start("--proxy-from", "10.0.0.0/8", listen="[::1]:0:proxy")
        self.assertClosedSilently(h3, v1("192.0.2.5", "127.0.0.1", 1, 80) + request_bytes())

    def test_unix_socket_peer_trusted_by_default(self):
        path = os.path.join(self.tmp, "p.sock")
        h = self.start(listen="unix:%s:proxy" % path)
        self.assertEqual(h.main, path)
        self.assertEqual(self.client_of(h, v1("192.0.2.6", "127.0.0.1", 1, 80)), "192.0.2.6")
        self.assertEqual(self.client_of(h, v2("192.0.2.7", "127.0.0.1", 1, 80)), "192.0.2.7")
        self.assertClosedSilently(h, request_bytes())

    def test_plain_listener_beside_a_proxy_listener(self):
        h = self.start(listen=["127.0.0.1:0:proxy", "127.0.0.1:0"])
        found = MAIN_LISTEN_RE.findall(h.log_text())
        self.assertEqual(len(found), 2, h.log_text())
        ports = [int(p) for _, p in found]
        # which one is the proxy listener: the one that closes a plain request
        plain = [p for p in ports if exchange(("127.0.0.1", p), request_bytes())]
        self.assertEqual(len(plain), 1, "exactly one listener answers a plain request: %s" % ports)
        ua = self.ua()
        raw = exchange(("127.0.0.1", plain[0]), request_bytes(ua=ua))
        self.assertEqual(parse_response(raw)[0], 200)
        self.assertEqual(self.logged(h, ua)[0]["addr"], "127.0.0.1")
        # a PROXY line on the plain listener is no header but a bad request line
        raw = exchange(("127.0.0.1", plain[0]), v1("192.0.2.8", "127.0.0.1", 1, 80) + request_bytes())
        self.assertRegex(raw[:12], rb"^HTTP/1\.[01] [45]\d\d$", raw[:100])


class ForwardedTest(Case):

    def addr_with(self, h, *headers, source=None):
        return self.client_of(h, b"", source=source, headers=headers)

    def test_x_forwarded_for(self):
        h = self.start("--trust-forwarded", listen="127.0.0.1:0")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "203.0.113.7")), "203.0.113.7")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "198.51.100.1, 192.0.2.9,203.0.113.7")),
                         "203.0.113.7")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "2001:db8::7")), "2001:db8::7")
        self.assertEqual(self.addr_with(h), "127.0.0.1")

    def test_forwarded(self):
        h = self.start("--trust-forwarded", listen="127.0.0.1:0")
        self.assertEqual(self.addr_with(h, ("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")),
                         "192.0.2.60")
        self.assertEqual(self.addr_with(h, ("Forwarded", "for=192.0.2.43, for=198.51.100.17")), "198.51.100.17")
        self.assertEqual(self.addr_with(h, ("Forwarded", "proto=https;for=198.51.100.18")), "198.51.100.18")

    def test_untrusted_peer_is_not_believed(self):
        h = self.start("--trust-forwarded", "--proxy-from", "10.0.0.0/8", listen="127.0.0.1:0")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "203.0.113.7")), "127.0.0.1")
        self.assertEqual(self.addr_with(h, ("Forwarded", "for=203.0.113.8")), "127.0.0.1")

    def test_off_by_default(self):
        h = self.start(listen="127.0.0.1:0")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "203.0.113.7")), "127.0.0.1")
        self.assertEqual(self.addr_with(h, ("Forwarded", "for=203.0.113.8")), "127.0.0.1")

    def test_no_client_from_the_proxy_header_no_trust(self):
        """A PROXY header without a client address (v1 UNKNOWN, v2 LOCAL, v2
        AF_UNIX) leaves the balancer's socket as the peer; a forwarded address
        in the request then came from the unknown client and is not believed
        (access log and REMOTE_ADDR). One the header names is judged as usual."""
        app = FcgiApp("127.0.0.1:0").start()
        self.apps.append(app)
        h = self.start("--trust-forwarded", "--fastcgi", "*.fcgi=" + app.address)
        unix_addrs = b"/tmp/client.sock".ljust(108, b"\0") + b"/tmp/server.sock".ljust(108, b"\0")
        headers = {
            "v1 UNKNOWN": b"PROXY UNKNOWN\r\n",
            "v1 UNKNOWN with addresses": b"PROXY UNKNOWN 192.0.2.1 127.0.0.1 1 2\r\n",
            "v2 LOCAL": HAPROXY_CHECK_HEADER,
            "v2 LOCAL with addresses": v2("127.0.0.7", "127.0.0.1", 1, 2, command=0x0),
            "v2 AF_UNIX": V2_SIG + b"\x21\x31" + struct.pack("!H", len(unix_addrs)) + unix_addrs,
        }
        for name, hdr in headers.items():
            for field in (("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6")):
                with self.subTest(header=name, field=field[0]):
                    # the balancer's socket (a v2 AF_UNIX source shows as "unix:")
                    self.assertIn(self.client_of(h, hdr, headers=[field]), ("127.0.0.1", "unix:"))
                    raw = exchange(h.main, hdr + request_bytes("/echo.fcgi", headers=[field]))
                    status, _, body = parse_response(raw)
                    self.assertEqual(status, 200, raw[:300])
                    self.assertNotEqual(json.loads(body)["params"]["REMOTE_ADDR"], "6.6.6.6")
        # a client the header names, itself a trusted proxy: its X-Forwarded-For counts
        self.assertEqual(self.client_of(h, v1("127.0.0.5", "127.0.0.1", 1, 80),
                                        headers=[("X-Forwarded-For", "6.6.6.6")]), "6.6.6.6")
        # and one that is not: it does not
        self.assertEqual(self.client_of(h, v1("192.0.2.5", "127.0.0.1", 1, 80),
                                        headers=[("X-Forwarded-For", "6.6.6.6")]), "192.0.2.5")

    def test_trusted_source_network(self):
        h = self.start("--trust-forwarded", "--proxy-from", "127.0.0.4/32", listen="127.0.0.1:0")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "203.0.113.9"), source="127.0.0.4"), "203.0.113.9")
        self.assertEqual(self.addr_with(h, ("X-Forwarded-For", "203.0.113.9"), source="127.0.0.5"), "127.0.0.5")


# ---------------------------------------------------------------------------------

def get(addr, path="/a.txt", method="GET", close=False, check_closed=False, timeout=5.0):
    """One request on a new connection: (status, headers, body, whether the
    server closed the connection after the response: checked only when asked,
    waiting up to 2 s)."""
    s = connect(addr, timeout=timeout)
    try:
        s.sendall(request_bytes(path, method=method, close=close))
        status, headers, body, rest = read_response(s, head_only=(method == "HEAD"))
        closed = None
        if check_closed:
            s.settimeout(2.0)
            try:
                closed = rest == b"" and s.recv(1) == b""
            except socket.timeout:
                closed = False
            except ConnectionResetError:
                closed = True
        return status, headers, body, closed
    finally:
        s.close()


def refused(addr):
    try:
        connect(addr, timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


class HealthTest(Case):

    def test_health(self):
        h = self.start("--health", "/healthz", listen="127.0.0.1:0")
        st, hd, body, _ = get(h.main, "/healthz", close=True)
        self.assertEqual((st, body), (200, b"ok\n"))
        st, hd, body, _ = get(h.main, "/healthz", method="HEAD", close=True)
        self.assertEqual((st, body, hd.get("content-length")), (200, b"", "3"))
        self.assertEqual(get(h.main, "/a.txt", close=True)[2], A_TXT)

    def test_off_by_default(self):
        h = self.start(listen="127.0.0.1:0")
        self.assertEqual(get(h.main, "/healthz", close=True)[0], 404)

    def test_behind_proxy_listener(self):
        h = self.start("--health", "/healthz")
        raw = exchange(h.main, HAPROXY_CHECK_HEADER + b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(parse_response(raw)[::2], (200, b"ok\n"), raw)

    def drain(self, workers, sig=signal.SIGTERM, delay=2.0):
        h = self.start("--health", "/healthz", "--drain-delay", str(delay), listen="127.0.0.1:0", workers=workers)
        if workers:
            self.assertEqual(len(h.wait_workers(workers)), workers)
        # a keep-alive connection from before the stop
        ka = connect(h.main)
        ka.sendall(request_bytes(close=False))
        st, hd, body, _ = read_response(ka)
        self.assertEqual((st, body), (200, A_TXT))
        self.assertNotEqual(hd.get("connection", "").lower(), "close")
        self.assertEqual(get(h.main, "/healthz", close=True)[:3:2], (200, b"ok\n"))

        t0 = time.monotonic()
        h.signal(sig)
        # from the moment the stop begins: 503, and every response closes its connection
        got = wait_until(lambda: get(h.main, "/healthz", close=True)[0] == 503, delay * 0.5)
        self.assertTrue(got, "/healthz did not turn 503 after the signal\n" + h.log_text())
        st, hd, body, closed = get(h.main, "/healthz", check_closed=True)
        self.assertEqual((st, body, hd.get("connection", "").lower(), closed), (503, b"draining\n", "close", True))
        ka.sendall(request_bytes(close=False))
        st, hd, body, rest = read_response(ka)
        self.assertEqual((st, body, hd.get("connection", "").lower()), (200, A_TXT, "close"))
        self.assertEqual(ka.recv(1), b"", "the keep-alive connection stayed open during the drain")
        ka.close()
        # still accepting and serving during the drain delay
        served = 0
        while time.monotonic() < t0 + delay * 0.8:
            st, hd, body, closed = get(h.main, "/a.txt", check_closed=True)
            self.assertEqual((st, body, hd.get("connection", "").lower(), closed), (200, A_TXT, "close", True),
                             "at %.2f s into the drain" % (time.monotonic() - t0))
            st, hd, body, closed = get(h.main, "/healthz", method="HEAD", check_closed=True)
            self.assertEqual((st, hd.get("connection", "").lower(), closed), (503, "close", True))
            served += 1
        self.assertGreater(served, 3)
        # then the usual graceful stop: new connections refused, exit 0
        self.assertTrue(wait_until(lambda: refused(h.main), delay + 5, 0.01),
                        "still accepting long after the drain delay\n" + h.log_text())
        t_refused = time.monotonic() - t0
        self.assertGreaterEqual(t_refused, delay - 0.1, "stopped accepting %.2f s after the signal" % t_refused)
        self.assertLess(t_refused, delay + 3, "stopped accepting %.2f s after the signal" % t_refused)
        self.assertEqual(h.wait(10), 0, h.log_text())

    def test_drain_single_process(self):
        self.drain(0)

    def test_drain_with_workers(self):
        self.drain(2)

    def test_drain_on_sigquit(self):
        self.drain(0, signal.SIGQUIT, delay=1.0)

    def test_reload_is_not_a_drain(self):
        """SIGHUP replaces the workers; the node keeps serving: /healthz stays
        200 and responses keep their connections open, through and after the
        drain delay (the old generation does not drain: the new one takes over
        the listeners at once)."""
        delay = 2.0
        h = self.start("--health", "/healthz", "--drain-delay", str(delay), listen="127.0.0.1:0", workers=2)
        old = h.wait_workers(2)
        self.assertEqual(len(old), 2)
        h.signal(signal.SIGHUP)
        t0 = time.monotonic()
        seen, closes, n = [], 0, 0
        while time.monotonic() < t0 + delay + 1.0:
            st, hd, body, _ = get(h.main, "/healthz", close=True)
            if not seen or seen[-1][1] != st:
                seen.append(("%.2f s" % (time.monotonic() - t0), st))
            st2, hd2, body2, _ = get(h.main, "/a.txt", close=False)
            self.assertEqual((st2, body2), (200, A_TXT))
            closes += hd2.get("connection", "").lower() == "close"
            n += 1
            time.sleep(0.02)
        self.assertEqual([s for s in seen if s[1] != 200], [], "/healthz during a reload (time, status): %s" % seen)
        self.assertEqual(closes, 0, "%d of %d keep-alive responses had Connection: close during a reload" % (
            closes, n))
        new = h.wait_workers(2, exclude=old)
        self.assertFalse(set(new) & set(old), "the workers were not replaced: %s -> %s" % (old, new))
        self.assertTrue(h.alive())


# ---------------------------------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,(?:%s))*,?)?\})? (\S+)(?: (-?\d+))?$" % (METRIC_NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % METRIC_NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % METRIC_NAME)


def parse_prometheus(text):
    """Prometheus text exposition format 0.0.4, strictly: returns
    ({(name, ((label, value), ...)): float}, {name: type})."""
    samples, types, helps = {}, {}, set()
    if text and not text.endswith("\n"):
        raise AssertionError("the exposition does not end with a newline")
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                if m.group(1) in helps:
                    raise AssertionError("second HELP for %s" % m.group(1))
                helps.add(m.group(1))
                continue
            m = TYPE_RE.match(line)
            if m:
                name = m.group(1)
                if name in types:
                    raise AssertionError("second TYPE for %s" % name)
                if any(k[0] == name for k in samples):
                    raise AssertionError("TYPE for %s after its samples" % name)
                types[name] = m.group(2)
                continue
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                raise AssertionError("malformed line: %r" % line)
            continue  # a comment
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if value not in ("+Inf", "-Inf", "NaN"):
            float(value)  # raises on anything else
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and types.get(base) not in ("histogram", "summary"):
            raise AssertionError("sample %s without a TYPE line before it" % name)
        key = (name, tuple(sorted(LABEL_RE.findall(labels))))
        if key in samples:
            raise AssertionError("duplicate sample %r" % (key,))
        samples[key] = float(value)
    return samples, types


class MetricsTest(Case):

    def setUp(self):
        super().setUp()
        self.h = self.start("--metrics", "127.0.0.1:0", listen="127.0.0.1:0", workers=2)
        m = wait_until(lambda: METRICS_LISTEN_RE.search(self.h.log_text()), 5)
        self.assertTrue(m, "no 'metrics listening on' line:\n" + self.h.log_text())
        self.maddr = (m.group(1).strip("[]"), int(m.group(2)))
        self.assertNotEqual(self.maddr, self.h.main)
        self.workers = self.h.wait_workers(2)
        self.assertEqual(len(self.workers), 2)

    def scrape(self, path="/metrics"):
        s = connect(self.maddr)
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n" % path).encode())
            status, headers, body, _ = read_response(s)
        finally:
            s.close()
        self.assertEqual(status, 200, body[:300])
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        return parse_prometheus(body.decode())

    def value(self, samples, name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def test_format_and_names(self):
        samples, types = self.scrape()
        names = {k[0] for k in samples}
        for n in ("hearth_connections_accepted_total", "hearth_connections_active", "hearth_requests_total",
                  "hearth_responses_total", "hearth_bytes_in_total", "hearth_bytes_out_total", "hearth_workers",
                  "hearth_up"):
            self.assertIn(n, names)
        for n in ("hearth_connections_accepted_total", "hearth_requests_total", "hearth_responses_total",
                  "hearth_bytes_in_total", "hearth_bytes_out_total", "hearth_worker_requests_total"):
            self.assertEqual(types.get(n), "counter", n)
        for n in ("hearth_connections_active", "hearth_workers", "hearth_up"):
            self.assertEqual(types.get(n), "gauge", n)
        self.assertEqual(self.value(samples, "hearth_up"), 1)
        self.assertEqual(self.value(samples, "hearth_workers"), 2)
        codes = {dict(k[1]).get("code") for k in samples if k[0] == "hearth_responses_total"}
        self.assertTrue(codes and codes <= {"1xx", "2xx", "3xx", "4xx", "5xx"}, codes)
        # every worker has its own request counter
        def pids():
            s, _ = self.scrape()
            return {int(dict(k[1])["pid"]) for k in s if k[0] == "hearth_worker_requests_total"}
        self.assertEqual(wait_until(lambda: pids() == set(self.workers), 5) and pids(), set(self.workers))
        # any path
        self.assertEqual(self.value(self.scrape("/")[0], "hearth_up"), 1)
        self.assertEqual(self.value(self.scrape("/other?x=1")[0], "hearth_up"), 1)
        # not on the main listener
        self.assertEqual(get(self.h.main, "/metrics", close=True)[0], 404)

    def test_counts(self):
        before, _ = self.scrape()
        req0 = self.value(before, "hearth_requests_total")
        per_worker0 = sum(v for k, v in before.items() if k[0] == "hearth_worker_requests_total")
        sent = received = 0
        # 3 requests on one keep-alive connection, then 4 on their own connections (one 404)
        s = connect(self.h.main)
        try:
            for i in range(3):
                data = request_bytes(close=(i == 2))
                s.sendall(data)
                sent += len(data)
                st, hd, body, _ = read_response(s)
                self.assertEqual(st, 200)
                received += len(body)
        finally:
            s.close()
        for path in ("/a.txt", "/a.txt", "/a.txt", "/nope"):
            data = request_bytes(path)
            raw = exchange(self.h.main, data)
            sent += len(data)
            received += len(raw)
            self.assertEqual(parse_response(raw)[0], 404 if path == "/nope" else 200)
        n = 7
        after = wait_until(lambda: (lambda s: s if self.value(s, "hearth_requests_total") >= req0 + n else None)(
            self.scrape()[0]), 5)
        self.assertTrue(after, "hearth_requests_total did not reach %d" % (req0 + n))
        self.assertEqual(self.value(after, "hearth_requests_total"), req0 + n)
        for code, k in (("2xx", 6), ("4xx", 1)):
            self.assertEqual(self.value(after, "hearth_responses_total", code=code)
                             - self.value(before, "hearth_responses_total", code=code), k, code)
        self.assertEqual(sum(v for k, v in after.items() if k[0] == "hearth_worker_requests_total") - per_worker0, n)
        self.assertGreaterEqual(self.value(after, "hearth_bytes_in_total")
                                - self.value(before, "hearth_bytes_in_total"), sent)
        self.assertGreaterEqual(self.value(after, "hearth_bytes_out_total")
                                - self.value(before, "hearth_bytes_out_total"), received)
        self.assertGreaterEqual(self.value(after, "hearth_connections_accepted_total")
                                - self.value(before, "hearth_connections_accepted_total"), 5)
        # scrapes are not requests
        for _ in range(3):
            self.assertEqual(self.value(self.scrape()[0], "hearth_requests_total"), req0 + n)

    def test_active_connections(self):
        base = self.value(self.scrape()[0], "hearth_connections_active")
        held = []
        try:
            for _ in range(3):
                s = connect(self.h.main)
                s.sendall(request_bytes(close=False))
                self.assertEqual(read_response(s)[0], 200)
                held.append(s)
            self.assertTrue(wait_until(lambda: self.value(self.scrape()[0], "hearth_connections_active")
                                       >= base + 3, 5))
        finally:
            for s in held:
                s.close()
        self.assertTrue(wait_until(lambda: self.value(self.scrape()[0], "hearth_connections_active") <= base, 5))


if __name__ == "__main__":
    unittest.main()
