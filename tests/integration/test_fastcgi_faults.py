"""FastCGI gateway (issue 5) against fcgi_app.py, a FastCGI application written
for the tests: the CGI variables (every one, PATH_INFO split, REQUEST_URI raw,
no HTTP_PROXY), request bodies (Content-Length streamed, chunked spooled and
sent with CONTENT_LENGTH, 413 over the limit), responses (Status, headers,
local and absolute Location, Content-Length / chunked / close-delimited, HEAD,
50 MB checked by hash), backend pooling (20 requests over at most 2
connections; a burst larger than a php-fpm-like backend's children must not
leave requests stuck behind idle pooled connections), and faults: refused and
absent backends (502), failover, connect/read/send timeouts (504), garbage
records and malformed CGI heads (502), huge STDERR (logged, one line per
record for the first 5, then one line counting the rest; no forged lines), a backend closing mid-response (the client's
connection is closed, never a complete-looking response), a client leaving
before or during the response (the application is told), and the
CVE-2019-11043 path (400, never forwarded).

fcgi_app.FcgiApp runs in this process so its counters (connections accepted,
requests seen, aborts, protocol violations by hearth) can be read directly.
"""
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import BIN, Server, TempRoot, free_port, read_response, recv_exact, wait_until
from fcgi_app import (ABORT_REQUEST, BEGIN_REQUEST, END_REQUEST, KEEP_CONN, MAX_CONTENT, PARAMS, STDIN, STDOUT, FcgiApp,
                      gen_chunks, gen_sha256, nv_decode, record, records, self_test)

SCRIPTS = ["echo", "gen", "status", "redirect", "loop", "stderr", "sleep", "garbage", "malformed",
           "bighead", "close", "overloaded", "noread", "count", "index"]
STATIC = b"a static file, not for the application\n"
SUB_INDEX = b"<p>sub index</p>\n"
SANITIZER_RE = r"ERROR: (Address|Leak)Sanitizer|runtime error:"
ERROR_LINE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z \[(debug|info|notice|warn|error)\] (.*)$')


def hearth_version():
    """The version `hearth --version` prints, or None (an ASan build that
    aborts at exit on a leak loses its buffered stdout)."""
    out = subprocess.run([BIN, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode(errors="replace")
    m = re.search(r"hearth (\d+\.\d+\S*)", out)
    return m.group(1) if m else None


def make_root():
    """A document root with one NAME.fcgi per behaviour, a static file, a
    directory whose name looks like a script, and sub/ with its own script and
    an index.html. Returns (TempRoot, its real path)."""
    r = TempRoot()
    os.chmod(r.path, 0o755)
    for name in SCRIPTS:
        r.write(name + ".fcgi", "# handled by fcgi_app.py: %s\n" % name, mode=0o644)
    r.write("static.txt", STATIC, mode=0o644)
    r.write("sub/echo.fcgi", "# sub\n", mode=0o644)
    r.write("sub/index.html", SUB_INDEX, mode=0o644)
    r.write("dir.fcgi/echo.fcgi", "# inside a directory named like a script\n", mode=0o644)
    for d in ("sub", "dir.fcgi"):
        os.chmod(os.path.join(r.path, d), 0o755)
    return r, os.path.realpath(r.path)


def request(addr, method, path, body=None, headers=None, timeout=15.0):
    """One request on a fresh connection: (status, headers {lower: value},
    header list, body, the client's local port)."""
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        port = c.sock.getsockname()[1]
        r = c.getresponse()
        data = r.read()
        hl = r.getheaders()
        return r.status, {k.lower(): v for k, v in hl}, hl, data, port
    finally:
        c.close()


def get(addr, path, **kw):
    return request(addr, "GET", path, **kw)


def echo(addr, path="/echo.fcgi", method="GET", body=None, headers=None):
    """The params the application received, as a dict (asserting a 200)."""
    st, h, _, data, port = request(addr, method, path, body=body, headers=headers)
    if st != 200:
        raise AssertionError("%s %s: %d %r" % (method, path, st, data[:300]))
    doc = json.loads(data)
    doc["client_port"] = port
    return doc


def raw_exchange(addr, data, timeout=10.0):
    """Send raw bytes, read until the server closes (or timeout): (bytes,
    how it ended: 'eof', 'reset' or 'timeout')."""
    s = socket.create_connection(addr, timeout=timeout)
    got = []
    how = "eof"
    try:
        s.sendall(data)
        while True:
            try:
                b = s.recv(262144)
            except socket.timeout:
                how = "timeout"
                break
            except ConnectionResetError:
                how = "reset"
                break
            if not b:
                break
            got.append(b)
    finally:
        s.close()
    return b"".join(got), how


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def dechunk(data):
    """Decode a chunked body; (body, complete: whether the last chunk came)."""
    out = bytearray()
    i = 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            return bytes(out), False
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            return bytes(out), data.find(b"\r\n\r\n", j) >= 0 or data[j:j + 4] == b"\r\n\r\n"
        if j + 2 + size + 2 > len(data):
            out += data[j + 2:j + 2 + size]
            return bytes(out), False
        out += data[j + 2:j + 2 + size]
        i = j + 2 + size + 2


class GatewayCase(unittest.TestCase):
    """Helpers: an application on a Unix socket (self.app), a root, and
    hearth instances started by start(); everything stopped in tearDown."""

    def setUp(self):
        self.servers = []
        self.apps = []
        self.addCleanup(self._cleanup)  # runs even when a subclass's setUp fails
        self.dir = tempfile.mkdtemp(prefix="hearth-fcgi-")
        os.chmod(self.dir, 0o755)
        self.rootobj, self.root = make_root()
        self.app = FcgiApp("unix:" + os.path.join(self.dir, "app.sock")).start()
        self.apps.append(self.app)
        self.sock = self.app.address  # "unix:/.../app.sock"

    def tearDown(self):
        for a in self.apps:
            self.assertEqual(a.errors, [], "hearth broke the FastCGI protocol")
        for s in self.servers:
            s.stop()
            self.assertNotRegex(s.stderr_text(), SANITIZER_RE, "sanitizer report (leak or error) from hearth")

    def _cleanup(self):
        for s in self.servers:
            s.stop()
        for a in self.apps:
            a.stop()
        if hasattr(self, "rootobj"):
            self.rootobj.cleanup()
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args, root=None):
        s = Server(root or self.root, *[str(a) for a in args])
        self.servers.append(s)
        return s

    def conf(self, text):
        path = os.path.join(self.dir, "hearth-%d.conf" % len(self.servers))
        with open(path, "w") as f:
            f.write(text)
        # flags (root, --listen) come from Server; the file only adds what flags cannot say
        check = subprocess.run([BIN, "-t", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=10)
        # "is ok" also counts: an ASan build may abort at exit on an unrelated leak
        self.assertTrue(check.returncode == 0 or b" is ok" in check.stdout,
                        "hearth -t -c rejects:\n%s\n%s" % (text, check.stdout.decode(errors="replace")))
        return path

    def assertAlive(self, server):
        self.assertTrue(server.alive(), "hearth died:\n" + server.stderr_text())
        st, _, _, data, _ = get(server.address(), "/static.txt")
        self.assertEqual((st, data), (200, STATIC))


class AppSelfTest(unittest.TestCase):
    """fcgi_app.py itself, with its own client: no hearth involved."""

    def test_app_self_test(self):
        self_test()

    def test_app_over_tcp(self):
        self_test("127.0.0.1:0")


class SharedGateway(GatewayCase):
    """Most tests share the setup: one application, one hearth with
    --fastcgi '*.fcgi=unix:SOCK' --index index.fcgi,index.html."""

    def setUp(self):
        super().setUp()
        self.h = self.start("--fastcgi", "*.fcgi=" + self.sock, "--index", "index.fcgi,index.html",
                            "--max-body-size", "100m", "--max-header-size", "256k")
        self.addr = self.h.address()

    def tearDown(self):
        try:
            self.assertTrue(self.h.alive(), "hearth died:\n" + self.h.stderr_text())
        finally:
            super().tearDown()


class CgiVariablesTest(SharedGateway):

    def test_every_variable(self):
        path = "/echo.fcgi/a%20b/c?x=1&y=%41"
        doc = echo(self.addr, path, headers={"Host": "example.test", "X-Custom-Thing": "hello",
                                             "User-Agent": "fcgi-test/1", "Proxy": "http://evil.test:1/",
                                             "Accept": "*/*"})
        p = doc["params"]
        expect = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_ADDR": "127.0.0.1",
            "SERVER_PORT": str(self.addr[1]),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": str(doc["client_port"]),
            "REQUEST_METHOD": "GET",
            "REQUEST_URI": path,
            "QUERY_STRING": "x=1&y=%41",
            "DOCUMENT_ROOT": self.root,
            "SCRIPT_NAME": "/echo.fcgi",
            "SCRIPT_FILENAME": self.root + "/echo.fcgi",
            "PATH_INFO": "/a b/c",
            "PATH_TRANSLATED": self.root + "/a b/c",
            "REDIRECT_STATUS": "200",
            "HTTP_HOST": "example.test",
            "HTTP_X_CUSTOM_THING": "hello",
            "HTTP_USER_AGENT": "fcgi-test/1",
            "HTTP_ACCEPT": "*/*",
        }
        for k, v in expect.items():
            self.assertEqual(p.get(k), v, "%s (all params: %s)" % (k, json.dumps(p, indent=1, sort_keys=True)))
        self.assertRegex(p.get("SERVER_SOFTWARE", ""), r"^hearth/\d+\.\d+")
        if hearth_version():
            self.assertEqual(p["SERVER_SOFTWARE"], "hearth/" + hearth_version())
        self.assertIn(p.get("SERVER_NAME"), ("example.test", "127.0.0.1", "localhost"), p)
        self.assertNotIn("HTTP_PROXY", p, "httpoxy: the Proxy header must not become HTTP_PROXY")
        self.assertIn(p.get("CONTENT_LENGTH", ""), ("", "0"), "a GET without a body")
        self.assertEqual(p.get("CONTENT_TYPE", ""), "")
        self.assertNotIn("HTTPS", p, "plain HTTP")
        names = [k for k, _ in doc["pairs"]]
        self.assertEqual(len(names), len(set(names)), "a param sent twice: %s" % names)
        for k, v in doc["pairs"]:
            self.assertRegex(k, r"^[A-Z0-9_]+$", "param names are upper-case CGI names")
        self.assertTrue(doc["keep_conn"], "pooled connections ask for FCGI_KEEP_CONN")

    def test_post_variables(self):
        body = b"a=1&b=two+words"
        doc = echo(self.addr, "/echo.fcgi?q=1", method="POST", body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        p = doc["params"]
        self.assertEqual(p["REQUEST_METHOD"], "POST")
        self.assertEqual(p["CONTENT_TYPE"], "application/x-www-form-urlencoded")
        self.assertEqual(p["CONTENT_LENGTH"], str(len(body)))
        self.assertEqual(p["QUERY_STRING"], "q=1")
        self.assertEqual(doc["body_head"].encode("latin-1"), body)
        self.assertEqual(doc["body_sha256"], hashlib.sha256(body).hexdigest())

    def test_other_methods(self):
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            doc = echo(self.addr, "/echo.fcgi", method=method, body=b"x" if method in ("PUT", "PATCH") else None)
            self.assertEqual(doc["params"]["REQUEST_METHOD"], method)

    def test_query_string_raw_and_empty(self):
        p = echo(self.addr, "/echo.fcgi")["params"]
        self.assertEqual(p.get("QUERY_STRING"), "", "QUERY_STRING is always set (RFC 3875 4.1.7)")
        self.assertEqual(p["REQUEST_URI"], "/echo.fcgi")
        p = echo(self.addr, "/echo.fcgi?a=%0a&b=%20+&c")["params"]
        self.assertEqual(p["QUERY_STRING"], "a=%0a&b=%20+&c", "the query is passed undecoded; %0a there is fine")
        p = echo(self.addr, "/echo.fcgi?")["params"]
        self.assertEqual(p["QUERY_STRING"], "")

    def test_path_info_split(self):
        cases = [
            # target, SCRIPT_NAME, PATH_INFO
            ("/echo.fcgi", "/echo.fcgi", ""),
            ("/echo.fcgi/", "/echo.fcgi", "/"),
            ("/echo.fcgi/x/y", "/echo.fcgi", "/x/y"),
            ("/sub/echo.fcgi/more/echo.fcgi", "/sub/echo.fcgi", "/more/echo.fcgi"),
            ("/ech%6f.fcgi/p%41", "/echo.fcgi", "/pA"),
            ("/dir.fcgi/echo.fcgi", "/dir.fcgi/echo.fcgi", ""),  # a directory is no script
            ("/dir.fcgi/echo.fcgi/z", "/dir.fcgi/echo.fcgi", "/z"),
        ]
        for target, script, info in cases:
            with self.subTest(target=target):
                p = echo(self.addr, target)["params"]
                self.assertEqual(p["SCRIPT_NAME"], script)
                self.assertEqual(p.get("PATH_INFO", ""), info)
                self.assertEqual(p["SCRIPT_FILENAME"], self.root + script)
                self.assertEqual(p["REQUEST_URI"], target)
                if info:
                    self.assertEqual(p.get("PATH_TRANSLATED"), self.root + info)
                else:
                    self.assertIn(p.get("PATH_TRANSLATED", ""), ("", self.root), "no PATH_INFO")

    def test_missing_script_is_404_without_the_backend(self):
        before = len(self.app.uris())
        for target in ("/missing.fcgi", "/missing.fcgi/x/y", "/nothing/echo.fcgi", "/static.txt/echo.fcgi",
                       "/sub/missing.fcgi/echo.fcgi"):
            with self.subTest(target=target):
                st, _, _, _, _ = get(self.addr, target)
                self.assertEqual(st, 404)
        self.assertEqual(self.app.uris()[before:], [], "the application was asked about missing scripts")

    def test_cve_2019_11043_pattern(self):
        """The published exploit: %0a in PATH_INFO, a long query. Refused (400)
        before anything reaches the application, with CR and NUL too, and in the
        script part."""
        before = len(self.app.uris())
        targets = [
            "/echo.fcgi/PHP%0Ais_the_shittiest_lang.php?" + "Q" * 1500,
            "/echo.fcgi/PHP%0Ais_the_shittiest_lang.fcgi?" + "Q" * 1500,
            "/echo.fcgi/a%0ab",
            "/echo.fcgi/a%0db",
            "/echo.fcgi/a%00b",
            "/echo.fcgi/%0a",
            "/ech%0ao.fcgi",
            "/echo%00.fcgi",
            "/sub%0a/echo.fcgi",
            "/echo.fcgi%0a/x",
        ]
        for target in targets:
            with self.subTest(target=target[:60]):
                raw, how = raw_exchange(self.addr, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                        % target.encode())
                if "%00" in target:
                    # the static path layer already refuses an encoded NUL with 403 ("encoded NUL
                    # or slash in the path"); the gateway contract says 400: either refuses
                    self.assertIn(status_of(raw), (400, 403), raw[:200])
                else:
                    self.assertEqual(status_of(raw), 400, raw[:200])
        self.assertEqual(self.app.uris()[before:], [], "an exploit path reached the application")
        # and a normal request after them
        echo(self.addr)

    def test_dot_segments_stay_beneath_the_root(self):
        for target in ("/sub/../echo.fcgi", "/echo.fcgi/../../etc/passwd", "/..%2f..%2fecho.fcgi",
                       "/sub/%2e%2e/echo.fcgi", "/echo.fcgi/..%2f..%2f..%2fetc%2fpasswd"):
            with self.subTest(target=target):
                st, _, _, data, _ = get(self.addr, target)
                self.assertIn(st, (200, 400, 403, 404), data[:200])
                if st == 200:
                    p = json.loads(data)["params"]
                    self.assertTrue(p["SCRIPT_FILENAME"].startswith(self.root + "/"), p)
                    for v in (p.get("PATH_INFO", ""), p.get("PATH_TRANSLATED", ""), p["SCRIPT_NAME"]):
                        self.assertNotIn("..", v.split("/"), p)

    def test_index_script(self):
        p = echo(self.addr, "/")["params"]
        self.assertEqual(p["SCRIPT_NAME"], "/index.fcgi")
        self.assertEqual(p["SCRIPT_FILENAME"], self.root + "/index.fcgi")
        self.assertEqual(p["REQUEST_URI"], "/")
        p = echo(self.addr, "/?a=b")["params"]
        self.assertEqual((p["SCRIPT_NAME"], p["QUERY_STRING"]), ("/index.fcgi", "a=b"))
        # sub/ has no index.fcgi: the next index name, served as a file
        st, _, _, data, _ = get(self.addr, "/sub/")
        self.assertEqual((st, data), (200, SUB_INDEX))

    def test_static_files_untouched(self):
        before = len(self.app.uris())
        st, h, _, data, _ = get(self.addr, "/static.txt")
        self.assertEqual((st, data), (200, STATIC))
        self.assertEqual(self.app.uris()[before:], [])

    def test_many_headers_become_http_vars(self):
        headers = {"X-H%d" % i: "v%d" % i for i in range(40)}
        headers["Cookie"] = "a=1; b=2"
        headers["Accept-Language"] = "en"
        p = echo(self.addr, headers=headers)["params"]
        for i in range(40):
            self.assertEqual(p.get("HTTP_X_H%d" % i), "v%d" % i)
        self.assertEqual(p.get("HTTP_COOKIE"), "a=1; b=2")
        self.assertEqual(p.get("HTTP_ACCEPT_LANGUAGE"), "en")

    def test_repeated_headers_one_variable(self):
        """A field sent several times is one HTTP_ variable, its values joined
        with ", " (Cookie with "; "), in order, whatever the names' case."""
        raw, _ = raw_exchange(self.addr, b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         b"X-A: 1\r\nCookie: a=1\r\nx-a: 2\r\nX-B: \r\nCOOKIE: b=2\r\n"
                                         b"X-A: 3\r\nX-B: b\r\n\r\n")
        self.assertEqual(status_of(raw), 200, raw[:300])
        doc = json.loads(http_body(raw))
        p = doc["params"]
        self.assertEqual((p["HTTP_X_A"], p["HTTP_COOKIE"], p["HTTP_X_B"]), ("1, 2, 3", "a=1; b=2", ", b"))
        names = [k for k, _ in doc["pairs"]]
        self.assertEqual(len(names), len(set(names)), "a variable sent twice: %s" % names)

    def test_long_param_values(self):
        """Values over 127 bytes take 4-byte lengths, and PARAMS over 64 KiB
        span several records."""
        long_q = "q=" + "z" * 5000
        headers = {"X-Long-%d" % i: "L%d" % i * 15000 for i in range(6)}  # 90 KB of params
        p = echo(self.addr, "/echo.fcgi?" + long_q, headers=headers)["params"]
        self.assertEqual(p["QUERY_STRING"], long_q)
        for i in range(6):
            self.assertEqual(p["HTTP_X_LONG_%d" % i], "L%d" % i * 15000)


class BodyTest(SharedGateway):

    def test_chunked_body_small(self):
        body = b"hello chunked world"
        raw = (b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: text/plain\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\nd\r\nchunked world\r\n0\r\n\r\n")
        data, _ = raw_exchange(self.addr, raw)
        self.assertEqual(status_of(data), 200, data[:300])
        head, rest = data.split(b"\r\n\r\n", 1)
        doc = json.loads(rest if b"content-length" in head.lower() else dechunk(rest)[0])
        self.assertEqual(doc["params"]["CONTENT_LENGTH"], str(len(body)))
        self.assertEqual(doc["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(doc["params"]["CONTENT_TYPE"], "text/plain")

    def test_chunked_body_spooled_to_a_file(self):
        """3 MiB in chunks of odd sizes: over the 1 MiB kept in memory."""
        body = b"".join(gen_chunks(3 * 1024 * 1024 + 17))
        s = socket.create_connection(self.addr, timeout=30)
        try:
            s.sendall(b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            i = 0
            sizes = [1, 4093, 65536, 100000, 7, 300000]
            k = 0
            while i < len(body):
                n = min(sizes[k % len(sizes)], len(body) - i)
                s.sendall(b"%x\r\n" % n + body[i:i + n] + b"\r\n")
                i += n
                k += 1
            s.sendall(b"0\r\n\r\n")
            st, h, data, _ = read_response(s)
        finally:
            s.close()
        self.assertEqual(st, 200, data[:300])
        if h.get("transfer-encoding", "").lower() == "chunked":
            data = dechunk(data)[0]
        doc = json.loads(data)
        self.assertEqual(doc["params"]["CONTENT_LENGTH"], str(len(body)))
        self.assertEqual(doc["body_length"], len(body))
        self.assertEqual(doc["body_sha256"], hashlib.sha256(body).hexdigest())

    def test_upload_20mb_content_length(self):
        n = 20 * 1024 * 1024
        body = b"".join(gen_chunks(n))
        doc = echo(self.addr, "/echo.fcgi", method="PUT", body=body,
                   headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(doc["params"]["CONTENT_LENGTH"], str(n))
        self.assertEqual(doc["body_length"], n)
        self.assertEqual(doc["body_sha256"], gen_sha256(n))

    def test_keepalive_after_bodies(self):
        """Several POSTs (Content-Length and chunked) on one client connection."""
        c = http.client.HTTPConnection(*self.addr, timeout=15)
        try:
            for i in range(6):
                body = os.urandom(1000 * (i + 1))
                if i % 2:  # an iterable without Content-Length: http.client sends it chunked
                    c.request("POST", "/echo.fcgi?i=%d" % i, body=iter([body[:100], body[100:]]))
                else:
                    c.request("POST", "/echo.fcgi?i=%d" % i, body=body)
                r = c.getresponse()
                doc = json.loads(r.read())
                self.assertEqual(r.status, 200)
                self.assertEqual(doc["body_sha256"], hashlib.sha256(body).hexdigest())
                self.assertEqual(doc["params"]["CONTENT_LENGTH"], str(len(body)))
                self.assertEqual(doc["params"]["QUERY_STRING"], "i=%d" % i)
        finally:
            c.close()


class ResponseTest(SharedGateway):

    def test_download_50mb_chunked(self):
        n = 50 * 1024 * 1024
        c = http.client.HTTPConnection(*self.addr, timeout=30)
        try:
            c.request("GET", "/gen.fcgi?bytes=%d" % n)
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.getheader("Content-Length"))
            self.assertEqual(r.getheader("Transfer-Encoding", "").lower(), "chunked")
            self.assertEqual(r.getheader("Content-Type"), "application/octet-stream")
            hsh = hashlib.sha256()
            total = 0
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                hsh.update(b)
                total += len(b)
            self.assertEqual(total, n)
            self.assertEqual(hsh.hexdigest(), gen_sha256(n))
            # the connection carries on
            c.request("GET", "/echo.fcgi")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        finally:
            c.close()

    def test_download_with_content_length(self):
        n = 8 * 1024 * 1024 + 3
        st, h, _, data, _ = get(self.addr, "/gen.fcgi?cl=1&rec=1000&bytes=%d" % n, timeout=30)
        self.assertEqual(st, 200)
        self.assertEqual(h.get("content-length"), str(n))
        self.assertNotIn("transfer-encoding", h)
        self.assertEqual(hashlib.sha256(data).hexdigest(), gen_sha256(n))

    def test_small_records(self):
        """STDOUT in 1-byte records: the head is reassembled across them."""
        st, _, _, data, _ = get(self.addr, "/gen.fcgi?rec=1&bytes=3000")
        self.assertEqual(st, 200)
        self.assertEqual(hashlib.sha256(data).hexdigest(), gen_sha256(3000))
        st, h, _, data, _ = get(self.addr, "/status.fcgi?do=status&code=203&h=X-A:+b")
        self.assertEqual((st, h.get("x-a")), (203, "b"))

    def test_http10_close_delimited(self):
        n = 300000
        data, how = raw_exchange(self.addr, b"GET /gen.fcgi?bytes=%d HTTP/1.0\r\nHost: x\r\n\r\n" % n)
        self.assertEqual(how, "eof")
        self.assertEqual(status_of(data), 200, data[:200])
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertNotIn(b"chunked", head.lower(), "no chunked encoding for HTTP/1.0")
        self.assertNotIn(b"content-length", head.lower())
        self.assertEqual(hashlib.sha256(body).hexdigest(), gen_sha256(n))
        # with Content-Length from the application
        data, how = raw_exchange(self.addr, b"GET /gen.fcgi?cl=1&bytes=%d HTTP/1.0\r\n\r\n" % n)
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"content-length: %d" % n, head.lower())
        self.assertEqual(hashlib.sha256(body).hexdigest(), gen_sha256(n))

    def test_head(self):
        s = socket.create_connection(self.addr, timeout=10)
        try:
            for target in ("/gen.fcgi?bytes=1000000", "/gen.fcgi?cl=1&bytes=1000000", "/echo.fcgi"):
                s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
                st, h, _, rest = read_response(s, head_only=True)
                self.assertEqual(st, 200)
                if "cl=1" in target:
                    self.assertEqual(h.get("content-length"), "1000000")
                # no body: the next response on the connection starts right away
                s.sendall(b"GET /static.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                buf = rest
                while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < len(STATIC):
                    b = s.recv(65536)
                    self.assertTrue(b, "closed after HEAD %s" % target)
                    buf += b
                self.assertTrue(buf.startswith(b"HTTP/1.1 200"), "HEAD %s sent a body: %r" % (target, buf[:200]))
                self.assertTrue(buf.endswith(STATIC), buf[-200:])
        finally:
            s.close()

    def test_status_and_headers(self):
        st, h, hl, data, _ = get(self.addr, "/status.fcgi?code=404&reason=Nope&h=X-App:+yes"
                                            "&h=Set-Cookie:+a%3D1&h=Set-Cookie:+b%3D2&body=gone")
        self.assertEqual(st, 404)
        self.assertEqual(data, b"gone")
        self.assertEqual(h.get("x-app"), "yes")
        self.assertEqual(h.get("content-type"), "text/plain")
        self.assertEqual(sorted(v for k, v in hl if k.lower() == "set-cookie"), ["a=1", "b=2"])
        self.assertNotIn("status", h, "Status is a CGI header, not an HTTP one")
        st, h, _, data, _ = get(self.addr, "/status.fcgi?code=201&cl=1&body=made")
        self.assertEqual((st, h.get("content-length"), data), (201, "4", b"made"))
        st, h, _, data, _ = get(self.addr, "/status.fcgi?body=plain")
        self.assertEqual((st, data), (200, b"plain"))
        st, h, _, data, _ = get(self.addr, "/status.fcgi?code=503&body=busy")
        self.assertEqual((st, data), (503, b"busy"))

    def test_local_redirect(self):
        doc = echo(self.addr, "/redirect.fcgi?loc=/echo.fcgi%3Ffrom%3Dredir")
        p = doc["params"]
        self.assertEqual(p["SCRIPT_NAME"], "/echo.fcgi")
        self.assertEqual(p["QUERY_STRING"], "from=redir")
        self.assertEqual(p["REQUEST_METHOD"], "GET")
        # a POST redirected: the client gets the response of GET /local/path
        doc = echo(self.addr, "/redirect.fcgi?loc=/echo.fcgi", method="POST", body=b"some body")
        self.assertEqual(doc["params"]["REQUEST_METHOD"], "GET")
        self.assertEqual(doc["body_length"], 0)
        # to a static file
        st, _, _, data, _ = get(self.addr, "/redirect.fcgi?loc=/static.txt")
        self.assertEqual((st, data), (200, STATIC))

    def test_absolute_and_explicit_redirects(self):
        st, h, _, _, _ = get(self.addr, "/redirect.fcgi?loc=http://example.test/x%3Fy%3D1")
        self.assertEqual(st, 302)
        self.assertEqual(h.get("location"), "http://example.test/x?y=1")
        st, h, _, _, _ = get(self.addr, "/redirect.fcgi?status=301&loc=/elsewhere")
        self.assertEqual(st, 301, "Status given: no internal redirect")
        self.assertEqual(h.get("location"), "/elsewhere")

    def test_redirect_loop_ends(self):
        t0 = time.monotonic()
        st, _, _, _, _ = get(self.addr, "/loop.fcgi", timeout=10)
        self.assertGreaterEqual(st, 500)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertLessEqual(len([u for u in self.app.uris() if u.startswith("/loop")]), 20)


class PoolTest(SharedGateway):

    def test_twenty_requests_share_a_connection(self):
        echo(self.addr)  # the pool holds one connection now
        before = self.app.accepts
        conns = set()
        for i in range(20):
            doc = echo(self.addr, "/count.fcgi?i=%d" % i)  # a new client connection each time
            self.assertTrue(doc["keep_conn"])
            conns.add(doc["conn"])
        # pooled connections close after 2 s idle, so a slow (loaded) machine may
        # open a few more; without pooling it would be 20
        self.assertLessEqual(self.app.accepts - before, 5, "the backend connection was not reused")
        self.assertLessEqual(len(conns), 5)
        # on one client connection too
        c = http.client.HTTPConnection(*self.addr, timeout=10)
        try:
            for i in range(20):
                c.request("GET", "/count.fcgi?k=%d" % i)
                r = c.getresponse()
                conns.add(json.loads(r.read())["conn"])
        finally:
            c.close()
        self.assertLessEqual(self.app.accepts - before, 2)

    def test_backend_closed_pooled_connection(self):
        """The application closes its idle connections (restart): the next
        GET still succeeds (detected, or retried once)."""
        echo(self.addr)
        self.assertTrue(wait_until(lambda: self.app.drop_idle() >= 1, 5), "no idle backend connection")
        self.assertTrue(wait_until(lambda: self.app.stats()["open"] == 0, 5))
        for i in range(3):
            doc = echo(self.addr, "/echo.fcgi?after-drop=%d" % i)
            self.assertEqual(doc["params"]["QUERY_STRING"], "after-drop=%d" % i)

    def test_concurrent_requests(self):
        results = []

        def worker(k):
            for i in range(4):
                try:
                    st, _, _, data, _ = get(self.addr, "/sleep.fcgi?secs=0.1&w=%d&i=%d" % (k, i))
                    results.append((st, json.loads(data)["params"]["QUERY_STRING"]))
                except Exception as e:  # noqa: BLE001 - reported below
                    results.append((None, repr(e)))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), 32)
        for st, q in results:
            self.assertEqual(st, 200, q)
        self.assertEqual(len(set(q for _, q in results)), 32)


class FaultTest(SharedGateway):

    def test_garbage_records_502(self):
        for kind in ("text", "version", "type", "id", "length"):
            with self.subTest(kind=kind):
                t0 = time.monotonic()
                st, _, _, _, _ = get(self.addr, "/garbage.fcgi?kind=%s&hold=5" % kind, timeout=10)
                self.assertEqual(st, 502)
                self.assertLess(time.monotonic() - t0, 4, "hearth waited for the backend to close")
        echo(self.addr)

    def test_malformed_cgi_head_502(self):
        for kind in ("nocolon", "status", "nohead", "ctl", "space", "eof"):
            with self.subTest(kind=kind):
                st, _, _, _, _ = get(self.addr, "/malformed.fcgi?kind=%s" % kind, timeout=10)
                self.assertEqual(st, 502)
        echo(self.addr)

    def test_response_head_limit(self):
        st, h, _, data, _ = get(self.addr, "/bighead.fcgi?bytes=20000")
        self.assertEqual((st, data), (200, b"big head body\n"))
        self.assertEqual(h.get("x-pad-0"), "p" * 1000)
        st, _, _, _, _ = get(self.addr, "/bighead.fcgi?bytes=100000")
        self.assertEqual(st, 502, "a head over max-header (64k)")
        echo(self.addr)

    def test_overloaded(self):
        st, _, _, _, _ = get(self.addr, "/overloaded.fcgi")
        self.assertIn(st, (502, 503))
        echo(self.addr)

    def test_huge_stderr(self):
        st, _, _, data, _ = get(self.addr, "/stderr.fcgi?bytes=%d" % (1 << 20), timeout=20)
        self.assertEqual((st, data), (200, b"stderr done\n"))

        def marked():
            return [l for l in self.h.stderr_text().splitlines() if "STDERR-MARKER" in l]
        lines = wait_until(marked, 5)
        self.assertTrue(lines, "no STDERR in the error log:\n" + self.h.stderr_text()[-2000:])
        for l in lines:
            m = ERROR_LINE_RE.match(l)
            self.assertTrue(m, l[:200])
            self.assertEqual(m.group(1), "warn", l[:200])
            self.assertIn("/stderr.fcgi", l[:2000], "the log line names the request")
        self.assertLessEqual(len(lines), 5, "one line per STDERR record, for the first 5 only")
        self.assertTrue(wait_until(lambda: re.search(r"stderr for \"/stderr.fcgi\" \(client [^)]*\): \d+ more bytes "
                                                     r"not logged", self.h.stderr_text()), 5))
        echo(self.addr)

    def test_stderr_records_one_line_each(self):
        """One line per record for the first 5 records of a request, then one
        line for the bytes of the rest (a record per PHP notice can be 65535
        lines a request)."""
        st, _, _, data, _ = get(self.addr, "/stderr.fcgi?text=small-stderr-line&count=30")
        self.assertEqual((st, data), (200, b"stderr done\n"))
        rest = len(b"".join(b"small-stderr-line #%d" % k for k in range(5, 30)))
        summary = "(client 127.0.0.1): %d more bytes not logged" % rest
        self.assertTrue(wait_until(lambda: summary in self.h.stderr_text(), 5), self.h.stderr_text()[-2000:])
        lines = [l for l in self.h.stderr_text().splitlines() if "small-stderr-line" in l]
        self.assertEqual([re.search(r"small-stderr-line #(\d+)", l).group(1) for l in lines], list("01234"))
        for l in lines + [l for l in self.h.stderr_text().splitlines() if summary in l]:
            self.assertIn("[warn]", l)
            self.assertIn("/stderr.fcgi", l)

    def test_stderr_cannot_forge_log_lines(self):
        forged = "first line\n2000-01-01T00:00:00Z [error] FORGED by the application\r\nlast"
        st, _, _, data, _ = get(self.addr, "/stderr.fcgi?text=" + urllib.parse.quote(forged))
        self.assertEqual(st, 200)
        wait_until(lambda: "FORGED" in self.h.stderr_text(), 5)
        text = self.h.stderr_text()
        self.assertIn("FORGED", text)
        for l in text.splitlines():
            self.assertTrue(ERROR_LINE_RE.match(l), "a log line that hearth did not write: %r" % l[:200])
            self.assertFalse(l.startswith("2000-01-01"), l)

    def closed_mid_response(self, target, chunked):
        """GET target from an application that closes the connection in the
        middle of its answer: the client must see the connection closed (not
        a hang), and never a response that looks complete. Returns (status or
        None, body received)."""
        t0 = time.monotonic()
        data, how = raw_exchange(self.addr, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode(), timeout=10)
        self.assertNotEqual(how, "timeout", "the client was left hanging")
        self.assertLess(time.monotonic() - t0, 8)
        st = status_of(data)
        if not data or st == 502:  # nothing was sent yet: an empty reply or a 502
            return st, b""
        self.assertEqual(st, 200, data[:200])
        head, body = data.split(b"\r\n\r\n", 1)
        if chunked:
            self.assertIn(b"transfer-encoding: chunked", head.lower())
            body, complete = dechunk(body)
            self.assertFalse(complete, "an incomplete response was ended like a complete one")
        else:
            self.assertIn(b"content-length: 1048576", head.lower())
            self.assertLess(len(body), 1048576)
        self.assertEqual(body, b"".join(gen_chunks(100000))[:len(body)], "what came is what was sent")
        return st, body

    def test_backend_closes_mid_response_with_content_length(self):
        # the head on its own first: the client has a 200 when the backend goes
        st, _ = self.closed_mid_response("/close.fcgi?cl=1&total=1048576&bytes=100000&pause=0.3", False)
        self.assertEqual(st, 200)
        # head, part of the body and the end of the connection at once
        self.closed_mid_response("/close.fcgi?cl=1&total=1048576&bytes=100000", False)
        self.closed_mid_response("/close.fcgi?cl=1&total=1048576&bytes=1000", False)
        echo(self.addr)

    def test_backend_closes_mid_response_chunked(self):
        st, _ = self.closed_mid_response("/close.fcgi?bytes=100000&pause=0.3", True)
        self.assertEqual(st, 200)
        self.closed_mid_response("/close.fcgi?bytes=100000", True)
        self.closed_mid_response("/close.fcgi?bytes=1000", True)
        echo(self.addr)

    def test_backend_closes_before_output(self):
        st, _, _, _, _ = get(self.addr, "/close.fcgi?head=0", timeout=10)
        self.assertEqual(st, 502)
        echo(self.addr)

    def test_client_abort_mid_response(self):
        for target in ("/gen.fcgi?bytes=1000000000&a=1", "/gen.fcgi?cl=1&bytes=1000000000&a=2"):
            with self.subTest(target=target):
                s = socket.create_connection(self.addr, timeout=10)
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
                got = 0
                while got < 300000:
                    b = s.recv(65536)
                    self.assertTrue(b)
                    got += len(b)
                s.close()
                aborted = wait_until(lambda: [a for a in self.app.aborts if a[0] == target], 10)
                self.assertTrue(aborted, "the application was not told (aborts: %s)" % self.app.aborts)
                self.assertTrue(re.search("ABORT_REQUEST|end of stream|failed", aborted[0][1]), aborted)
        # everything still works, over a fresh backend connection
        echo(self.addr)
        self.assertAlive(self.h)


    def test_client_leaves_before_the_response(self):
        """A client that gives up while the application is still working (no
        output yet): the application is told (ABORT_REQUEST or the connection
        closed) instead of working on for nobody."""
        target = "/sleep.fcgi?secs=6&leave=1"
        s = socket.create_connection(self.addr, timeout=10)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
        self.assertTrue(wait_until(lambda: target in self.app.uris(), 5))
        s.close()
        aborted = wait_until(lambda: [a for a in self.app.aborts if a[0] == target], 4)
        self.assertTrue(aborted, "the application was not told that the client left")
        echo(self.addr)


class SeparateServersTest(GatewayCase):
    """Each test starts its own hearth."""

    def test_tcp_backend(self):
        app = FcgiApp("127.0.0.1:0").start()
        self.apps.append(app)
        h = self.start("--fastcgi", "*.fcgi=" + app.address)
        p = echo(h.address(), "/echo.fcgi/x?y=z")["params"]
        self.assertEqual((p["SCRIPT_NAME"], p["PATH_INFO"], p["QUERY_STRING"]), ("/echo.fcgi", "/x", "y=z"))
        self.assertEqual(app.accepts, 1)

    def test_absent_unix_socket_502(self):
        h = self.start("--fastcgi", "*.fcgi=unix:" + os.path.join(self.dir, "nobody.sock"))
        t0 = time.monotonic()
        st, _, _, _, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual(st, 502)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertAlive(h)

    def test_stale_unix_socket_502(self):
        path = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # the file stays; nobody listens
        h = self.start("--fastcgi", "*.fcgi=unix:" + path)
        st, _, _, _, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual(st, 502)
        self.assertAlive(h)

    def test_refused_tcp_502(self):
        h = self.start("--fastcgi", "*.fcgi=127.0.0.1:%d" % free_port())
        for _ in range(3):
            st, _, _, _, _ = get(h.address(), "/echo.fcgi")
            self.assertEqual(st, 502)
        self.assertAlive(h)

    def test_failover(self):
        dead_unix = "unix:" + os.path.join(self.dir, "dead.sock")
        dead_tcp = "127.0.0.1:%d" % free_port()
        h = self.start("--fastcgi", "*.fcgi=%s,%s,%s" % (dead_unix, dead_tcp, self.sock))
        for i in range(6):
            doc = echo(h.address(), "/echo.fcgi?i=%d" % i)
            self.assertEqual(doc["params"]["QUERY_STRING"], "i=%d" % i)

    def test_round_robin_two_live_backends(self):
        app2 = FcgiApp("unix:" + os.path.join(self.dir, "app2.sock")).start()
        self.apps.append(app2)
        h = self.start("--fastcgi", "*.fcgi=%s,%s" % (self.sock, app2.address))
        results = []

        def worker():
            for _ in range(3):
                results.append(get(h.address(), "/sleep.fcgi?secs=0.2")[0])
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(results, [200] * 12)
        self.assertGreater(self.app.accepts, 0, "round-robin never chose the first backend")
        self.assertGreater(app2.accepts, 0, "round-robin never chose the second backend")

    def test_burst_over_a_limited_backend(self):
        """A backend that serves at most 2 connections at once and keeps each
        for as long as the web server does (php-fpm with pm.max_children = 2
        and FCGI_KEEP_CONN): 6 clients at once must all be answered, not left
        with requests on connections the backend never accepts."""
        app = FcgiApp("unix:" + os.path.join(self.dir, "limited.sock"), max_conns=2).start()
        self.apps.append(app)
        h = self.start("--fastcgi", "*.fcgi=" + app.address)
        results = {}

        def worker(k):
            t0 = time.monotonic()
            try:
                st = get(h.address(), "/echo.fcgi?k=%d" % k, timeout=8)[0]
            except OSError as e:
                st = repr(e)
            results[k] = (st, round(time.monotonic() - t0, 1))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(sorted(results), list(range(6)))
        stuck = {k: v for k, v in results.items() if v[0] != 200}
        self.assertEqual(stuck, {}, "requests stuck behind idle pooled connections (the backend "
                         "accepted %d connections; hearth opened more)" % app.accepts)

    def test_max_conns_queue_reuses_connections(self):
        """max-conns=2 in front of a backend that serves 2 connections at once:
        12 clients at once all get answers, over the same 2 backend
        connections (queued requests take a finished connection; none is
        opened or closed per request)."""
        app = FcgiApp("unix:" + os.path.join(self.dir, "limited.sock"), max_conns=2).start()
        self.apps.append(app)
        h = self.start("--fastcgi", "*.fcgi=%s,max-conns=2" % app.address)
        results = []

        def worker(k):
            for i in range(5):
                try:
                    doc = echo(h.address(), "/sleep.fcgi?secs=0.02&k=%d&i=%d" % (k, i))
                    results.append((200, doc["params"]["QUERY_STRING"], doc["keep_conn"]))
                except Exception as e:  # noqa: BLE001 - reported below
                    results.append((None, repr(e), None))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), 60)
        self.assertEqual([r for r in results if r[0] != 200], [])
        self.assertEqual(len(set(q for _, q, _ in results)), 60)
        self.assertTrue(all(k for _, _, k in results), "FCGI_KEEP_CONN not asked for")
        self.assertLessEqual(app.accepts, 2, "hearth opened more connections than max-conns")

    def test_queue_timeout_503(self):
        """Every allowed connection busy for longer than queue-timeout: the
        waiting request gets 503; the busy one finishes; later ones work."""
        h = self.start("--fastcgi", "*.fcgi=%s,max-conns=1,queue-timeout=1" % self.sock)
        slow = {}

        def long_one():
            slow["st"] = get(h.address(), "/sleep.fcgi?secs=3&slow=1", timeout=10)[0]
        t = threading.Thread(target=long_one)
        t.start()
        try:
            self.assertTrue(wait_until(lambda: "/sleep.fcgi?secs=3&slow=1" in self.app.uris(), 5))
            t0 = time.monotonic()
            st, _, _, _, _ = get(h.address(), "/echo.fcgi?queued=1", timeout=10)
            waited = time.monotonic() - t0
        finally:
            t.join(15)
        self.assertEqual(st, 503)
        self.assertGreater(waited, 0.8)
        self.assertLess(waited, 2.9, "the queued request waited for the busy one instead of timing out")
        self.assertEqual(slow.get("st"), 200)
        self.assertNotIn("/echo.fcgi?queued=1", self.app.uris(), "a timed-out queued request reached the app")
        self.assertIn("queue-timeout", h.stderr_text())
        self.assertEqual(echo(h.address(), "/echo.fcgi?after=1")["params"]["QUERY_STRING"], "after=1")

    def test_client_leaves_while_queued(self):
        """A client that gives up while its request waits in the queue: the
        request is dropped from the queue and never reaches the application."""
        h = self.start("--fastcgi", "*.fcgi=%s,max-conns=1" % self.sock)
        slow = {}

        def long_one():
            slow["st"] = get(h.address(), "/sleep.fcgi?secs=1.5&slow=2", timeout=10)[0]
        t = threading.Thread(target=long_one)
        t.start()
        try:
            self.assertTrue(wait_until(lambda: "/sleep.fcgi?secs=1.5&slow=2" in self.app.uris(), 5))
            s = socket.create_connection(h.address(), timeout=10)
            s.sendall(b"GET /echo.fcgi?gone=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            s.close()
        finally:
            t.join(15)
        self.assertEqual(slow.get("st"), 200)
        self.assertEqual(echo(h.address(), "/echo.fcgi?after=2")["params"]["QUERY_STRING"], "after=2")
        self.assertNotIn("/echo.fcgi?gone=1", self.app.uris())
        self.assertAlive(h)

    def test_prefix_mount(self):
        h = self.start("--fastcgi", "/app/=" + self.sock)
        target = "/app/some/th%69ng?q=1"
        p = echo(h.address(), target)["params"]
        self.assertEqual(p["REQUEST_URI"], target)
        self.assertEqual(p["QUERY_STRING"], "q=1")
        self.assertEqual(p["SCRIPT_NAME"] + p.get("PATH_INFO", ""), "/app/some/thing")
        self.assertTrue(p["SCRIPT_NAME"].startswith("/app"), p)
        # outside the prefix: files as usual, even *.fcgi ones
        st, _, _, data, _ = get(h.address(), "/static.txt")
        self.assertEqual((st, data), (200, STATIC))
        before = len(self.app.uris())
        st, _, _, data, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual(self.app.uris()[before:], [])

    def test_two_routes(self):
        """--fastcgi is repeatable: an extension and a prefix, two applications."""
        app2 = FcgiApp("unix:" + os.path.join(self.dir, "app2.sock")).start()
        self.apps.append(app2)
        h = self.start("--fastcgi", "*.fcgi=" + self.sock, "--fastcgi", "/app/=" + app2.address)
        self.assertEqual(echo(h.address(), "/echo.fcgi?to=1")["params"]["QUERY_STRING"], "to=1")
        self.assertEqual(echo(h.address(), "/app/x?to=2")["params"]["QUERY_STRING"], "to=2")
        self.assertEqual(self.app.uris(), ["/echo.fcgi?to=1"])
        self.assertEqual(app2.uris(), ["/app/x?to=2"])

    def test_with_workers(self):
        """Master and 2 workers: each worker has its own pool."""
        h = self.start("--workers", "2", "--fastcgi", "*.fcgi=" + self.sock)
        for i in range(10):
            self.assertEqual(echo(h.address(), "/echo.fcgi?i=%d" % i)["params"]["QUERY_STRING"], "i=%d" % i)
        self.assertLessEqual(self.app.accepts, 10)
        st, _, _, _, _ = get(h.address(), "/garbage.fcgi?hold=1")
        self.assertEqual(st, 502)

    def test_body_limit_413(self):
        h = self.start("--fastcgi", "*.fcgi=" + self.sock, "--max-body-size", "1k")
        before = len(self.app.uris())
        st, _, _, _, _ = request(h.address(), "POST", "/echo.fcgi", body=b"x" * 2048)
        self.assertEqual(st, 413)
        data, _ = raw_exchange(h.address(), b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                            b"\r\n400\r\n" + b"y" * 1024 + b"\r\n400\r\n" + b"y" * 1024 +
                               b"\r\n0\r\n\r\n")
        self.assertEqual(status_of(data), 413, data[:200])
        self.assertEqual(self.app.uris()[before:], [], "an oversized body reached the application")
        doc = echo(h.address(), "/echo.fcgi", method="POST", body=b"z" * 1000)
        self.assertEqual(doc["body_length"], 1000)

    def test_config_file_read_timeout_504(self):
        conf = self.conf("fastcgi *.fcgi %s read-timeout=1 max-body=4k;\nindex index.fcgi index.html;\n" % self.sock)
        h = self.start("-c", conf, "--control", "off")
        t0 = time.monotonic()
        st, _, _, _, _ = get(h.address(), "/sleep.fcgi?secs=20", timeout=10)
        self.assertEqual(st, 504)
        self.assertLess(time.monotonic() - t0, 3.5)
        # hearth carries on; the per-route body limit and index apply
        self.assertEqual(echo(h.address(), "/")["params"]["SCRIPT_NAME"], "/index.fcgi")
        st, _, _, _, _ = request(h.address(), "POST", "/echo.fcgi", body=b"x" * 5000)
        self.assertEqual(st, 413)
        self.assertEqual(echo(h.address(), "/echo.fcgi", method="POST", body=b"x" * 3000)["body_length"], 3000)

    def test_config_file_in_a_site(self):
        conf = self.conf("site default {\n  fastcgi *.fcgi %s;\n  index index.fcgi;\n}\n" % self.sock)
        h = self.start("-c", conf, "--control", "off")
        self.assertEqual(echo(h.address(), "/")["params"]["SCRIPT_NAME"], "/index.fcgi")

    def test_connect_timeout(self):
        """A TCP backend whose accept queue is full: SYNs go unanswered, and
        connect-timeout=1 answers well before the read timeout would."""
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
                fillers.append(c)
            conf = self.conf("fastcgi *.fcgi 127.0.0.1:%d connect-timeout=1 read-timeout=30;\n" % port)
            h = self.start("-c", conf, "--control", "off")
            t0 = time.monotonic()
            st, _, _, _, _ = get(h.address(), "/echo.fcgi", timeout=15)
            self.assertIn(st, (502, 504))
            self.assertLess(time.monotonic() - t0, 4, "connect-timeout=1 not applied")
            self.assertAlive(h)
        finally:
            for c in fillers:
                c.close()
            lst.close()

    def test_send_timeout(self):
        """The application never reads the body: send-timeout=1 ends the
        request (an error status, or the connection closed) instead of a hang."""
        conf = self.conf("fastcgi *.fcgi %s send-timeout=1 read-timeout=30 max-body=100m;\n" % self.sock)
        h = self.start("-c", conf, "--control", "off")
        n = 64 * 1024 * 1024
        s = socket.create_connection(h.address(), timeout=15)
        outcome = {}

        def send():
            try:
                s.sendall(b"POST /noread.fcgi?secs=20 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n)
                chunk = b"b" * (1 << 20)
                for _ in range(64):
                    s.sendall(chunk)
                outcome["sent"] = "all"
            except OSError as e:
                outcome["sent"] = repr(e)
        t = threading.Thread(target=send, daemon=True)
        t0 = time.monotonic()
        t.start()
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except ConnectionResetError as e:
            outcome["recv"] = repr(e)
        except socket.timeout:
            self.fail("no answer and no close within 15 s: %s" % outcome)
        finally:
            elapsed = time.monotonic() - t0
            s.close()
            t.join(5)
        self.assertLess(elapsed, 8, "no answer within 8 s: %s" % outcome)
        if data:
            self.assertIn(status_of(data), (502, 504), data[:200])
        self.assertAlive(h)


# ---------------------------------------------------------------------------
# Scripted applications: one handler per backend connection, for answers
# fcgi_app.py does not give (early, out of order, cut, oversized).


def read_record(s):
    _, rtype, rid, clen, plen = struct.unpack(">BBHHBx", recv_exact(s, 8))
    content = recv_exact(s, clen)
    recv_exact(s, plen)
    return rtype, rid, content


def read_request(s, stdin=True):
    """BEGIN_REQUEST and PARAMS, and STDIN to its end unless stdin is False:
    {"params": {name: value}, "stdin": bytes, "keep": bool}."""
    rtype, _, content = read_record(s)
    while rtype == ABORT_REQUEST:  # may cross the END_REQUEST of the request before
        rtype, _, content = read_record(s)
    if rtype != BEGIN_REQUEST:
        raise AssertionError("record type %d, not BEGIN_REQUEST" % rtype)
    keep = bool(content[2] & KEEP_CONN)
    params = {k.decode("latin-1"): v.decode("latin-1") for k, v in nv_decode(read_stream(s, PARAMS, "PARAMS"))}
    body = read_stream(s, STDIN, "STDIN") if stdin else b""
    return {"params": params, "stdin": body, "keep": keep}


def read_stream(s, want, name):
    """The content of want records up to the empty one that ends the stream."""
    out = b""
    while True:
        rtype, _, content = read_record(s)
        if rtype != want:
            raise AssertionError("record type %d among the %s" % (rtype, name))
        if not content:
            return out
        out += content


def answer(stdout, protocol_status=0, size=MAX_CONTENT):
    """STDOUT records of at most size bytes, the empty one, END_REQUEST."""
    return (records(STDOUT, 1, stdout, size) + record(STDOUT, 1)
            + record(END_REQUEST, 1, struct.pack(">IB3x", 0, protocol_status)))


def drain(s, secs=5.0):
    """Read until the peer closes (or secs pass without a byte)."""
    s.settimeout(secs)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:  # a timeout or a reset
        pass
    return out


def http_body(raw):
    """The body of the one response in raw, dechunked when chunked."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return dechunk(body)[0] if re.search(rb"(?i)\r\ntransfer-encoding: chunked", head) else body


class ScriptedApp:
    """handler(app, no, sock) runs in a thread for each connection accepted
    (no counts from 0); it notes what it saw in app.log. A handler that raises
    anything but a closed connection is a failure (app.errors)."""

    def __init__(self, path, handler):
        self.handler = handler
        self.conns = 0
        self.log = []
        self.errors = []
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.address = "unix:" + path
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            no = self.conns
            self.conns += 1
            threading.Thread(target=self._run, args=(no, s), daemon=True).start()

    def _run(self, no, s):
        s.settimeout(10)
        try:
            self.handler(self, no, s)
        except (EOFError, OSError):
            pass
        except Exception as e:
            self.errors.append("conn %d: %r" % (no, e))
        finally:
            s.close()

    def stop(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def canned(stdout, protocol_status=0, size=MAX_CONTENT):
    """A handler answering every request with these STDOUT bytes."""
    def handler(app, no, s):
        while True:
            app.log.append(read_request(s))
            s.sendall(answer(stdout, protocol_status, size))
    return handler


def spool_files(pid):
    """The unnamed temporary files (request-body spools) process pid holds open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith("(deleted)"):
                n += 1
        except OSError:
            pass
    return n


class AuditTest(GatewayCase):
    """Defects found by an audit of the gateway, each with the answer it must give."""

    def assertEchoed(self, raw, n):
        """A 200 from echo.fcgi that saw a request body of n bytes."""
        self.assertEqual(status_of(raw), 200, raw[:300])
        self.assertEqual(json.loads(http_body(raw))["body_length"], n)

    def test_memory_spools_share_one_budget(self):
        """Chunked bodies for a FastCGI route are spooled before the request
        goes out, in memory up to 1 MiB each. 40 slow uploads that stop just
        short of 1 MiB held 40 MiB of the worker's memory; now a worker's
        memory spools together stay under 16 MiB and the rest go to
        unnamed temporary files."""
        h = self.start("--fastcgi", "*.fcgi=%s" % self.sock, "--max-body-size", "2m", "--timeout-body", "30")
        pid = h.proc.pid
        port = h.address()[1]

        def rss_kib():
            with open("/proc/%d/status" % pid) as f:
                return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

        def tmp_files():
            return spool_files(pid)

        def unread_by_server():
            # rx_queue of hearth's sockets on its port: what it has not read yet
            total = 0
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if int(cols[1].split(":")[1], 16) == port:
                        total += int(cols[4].split(":")[1], 16)
            return total

        before = rss_kib()
        n, size = 40, 900 << 10
        payload = os.urandom(size)
        socks = []
        for _ in range(n):
            c = socket.create_connection(h.address(), timeout=10)
            self.addCleanup(c.close)
            c.sendall(b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"%x\r\n" % size + payload)  # the body never ends
            socks.append(c)
        # everything sent has been read by hearth
        def unsent(c):  # SIOCOUTQ: bytes the peer has not acknowledged
            return struct.unpack("i", fcntl.ioctl(c, 0x5411, b"\0" * 4))[0]

        self.assertTrue(wait_until(lambda: unread_by_server() == 0 and not any(unsent(c) for c in socks), 20),
                        "hearth did not read the uploads")
        grown = (rss_kib() - before) / 1024.0
        files = tmp_files()
        print("\n40 uploads of 900 KiB held open: RSS +%.1f MiB, %d spool files" % (grown, files))
        self.assertGreaterEqual(files, 20)  # 40 - 16 one-MiB spools: 24
        with open("/proc/%d/maps" % pid) as f:
            sanitized = "asan" in f.read() or "ASAN_OPTIONS" in os.environ
        if not sanitized:  # ASan keeps freed blocks in quarantine: RSS says nothing there
            self.assertLess(grown, 26, "memory spools past their budget")
        for c in socks:
            c.close()
        self.assertTrue(wait_until(lambda: tmp_files() == 0, 10), "spool files left open")
        self.assertAlive(h)

    def test_spool_files_have_a_disk_budget(self):
        """Chunked uploads past 1 MiB (or past the memory budget) went to
        temporary files without a bound across requests: connections times
        max-body-size of disk. Now a worker's spool files together stay
        under fastcgi-spool-max; an upload that would go past it gets 503
        (413 when it alone is larger), and the room is back once the uploads
        holding it end."""
        h = self.start("--fastcgi", "*.fcgi=%s" % self.sock, "--max-body-size", "4m",
                       "--fastcgi-spool-max", "3m", "--timeout-body", "30")
        pid = h.proc.pid
        head = b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        big = os.urandom(1536 << 10)
        # A: 1.5 MiB of a 3 MiB chunk (which fits the budget alone), held
        # open: a spool file of 1.5 MiB
        a = socket.create_connection(h.address(), timeout=15)
        self.addCleanup(a.close)
        a.sendall(head + b"%x\r\n" % (2 * len(big)) + big)
        self.assertTrue(wait_until(lambda: spool_files(pid) == 1, 10), "no spool file for the first upload")
        # B: 1.6 MiB more would make 3.1 MiB of spool files: 503
        over = big + os.urandom(100 << 10)
        raw, _ = raw_exchange(h.address(), head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(over), over))
        self.assertEqual(status_of(raw), 503, raw[:300])
        self.assertTrue(wait_until(lambda: "fastcgi-spool-max" in h.stderr_text(), 5), h.stderr_text())
        # bodies that fit in memory are not held back by the full disk budget
        small = os.urandom(100 << 10)
        raw, _ = raw_exchange(h.address(), head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small))
        self.assertEchoed(raw, len(small))
        # A ends: its answer is whole, and its room is free again for C
        a.sendall(big + b"\r\n0\r\n\r\n")
        self.assertEchoed(drain(a, 15), 2 * len(big))
        self.assertTrue(wait_until(lambda: spool_files(pid) == 0, 10), "spool file left open")
        raw, _ = raw_exchange(h.address(), head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big))
        self.assertEchoed(raw, len(big))
        # a body that alone is larger than the budget (but within max-body-size)
        # will never fit: 413, not "try again later"
        huge = big + big + big[:256 << 10]
        raw, _ = raw_exchange(h.address(), head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(huge), huge))
        self.assertEqual(status_of(raw), 413, raw[:300])
        self.assertEqual(spool_files(pid), 0)
        self.assertAlive(h)

    def test_slow_reader_is_not_an_application_timeout(self):
        """A client that stops reading for longer than read-timeout: the
        application answered at once, so the wait is the client's
        (--timeout-send), and the whole body arrives."""
        conf = self.conf("fastcgi *.fcgi %s read-timeout=1;\n" % self.sock)
        h = self.start("-c", conf, "--control", "off", "--timeout-send", "20")
        n = 8 << 20
        s = socket.create_connection(h.address(), timeout=15)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /gen.fcgi?bytes=%d&cl=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n)
            time.sleep(3)  # three read-timeouts without reading
            raw = drain(s, 10)
        finally:
            s.close()
        self.assertEqual(status_of(raw), 200, raw[:300])
        self.assertEqual(len(http_body(raw)), n, h.stderr_text()[-1500:])
        self.assertNotIn("FastCGI timeout", h.stderr_text())
        self.assertAlive(h)

    def test_slow_upload_is_a_body_timeout_question(self):
        """A client pausing inside a Content-Length body for longer than
        read-timeout (but less than --timeout-body) still gets its answer:
        the application is waiting for the client, not the other way round."""
        conf = self.conf("fastcgi *.fcgi %s read-timeout=1;\n" % self.sock)
        h = self.start("-c", conf, "--control", "off", "--timeout-body", "10")
        s = socket.create_connection(h.address(), timeout=15)
        try:
            s.sendall(b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                      b"Connection: close\r\n\r\n01234")
            time.sleep(2.5)
            s.sendall(b"56789")
            raw = drain(s, 10)
        finally:
            s.close()
        self.assertEchoed(raw, 10)
        self.assertAlive(h)

    def scripted(self, handler, *args):
        app = ScriptedApp(os.path.join(self.dir, "s%d.sock" % len(self.apps)), handler)
        self.apps.append(app)
        return app, self.start("--fastcgi", "*.fcgi=" + app.address, *args)

    def test_unread_body_is_never_a_request(self):
        """An application answers before reading the body: what the client
        still sends of it is not parsed as its next request (RFC 9112 §9.3)."""
        def early(app, no, s):
            app.log.append(read_request(s, stdin=False))
            s.sendall(answer(b"Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nearly\n"))
            drain(s, 2)
        app, h = self.scripted(early)
        smuggled = b"GET /static.txt?SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"
        s = socket.create_connection(h.address(), timeout=5)
        try:
            s.sendall(b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n0123456789"
                      % (10 + len(smuggled)))
            st, hd, body, rest = read_response(s)
            self.assertEqual((st, body), (200, b"early\n"))
            try:
                s.sendall(smuggled)
            except OSError:
                pass
            rest += drain(s, 5)
        finally:
            s.close()
        self.assertNotIn(b"HTTP/1.", rest)
        self.assertNotIn(STATIC, rest)
        self.assertEqual(hd.get("connection"), "close")
        self.assertAlive(h)

    def stale_after_body(self):
        """Connection 0 serves a request with FCGI_KEEP_CONN, then reads all
        of the next one and closes without a byte; later connections answer
        "replayed N" (N: the body length they got)."""
        def handler(app, no, s):
            while True:
                r = read_request(s)
                app.log.append((no, r["params"]["REQUEST_METHOD"], len(r["stdin"])))
                if no == 0 and len(app.log) > 1:
                    return
                s.sendall(answer(b"Content-Type: text/plain\r\n\r\nreplayed %d\n" % len(r["stdin"])))
        app, h = self.scripted(handler)
        st, _, _, data, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual((st, data), (200, b"replayed 0\n"))
        return app, h

    def test_stale_pooled_connection_after_the_body_is_not_retried(self):
        app, h = self.stale_after_body()
        st, _, _, data, _ = request(h.address(), "POST", "/echo.fcgi", body=b"b" * 1000)
        self.assertEqual(st, 502, data[:200])
        self.assertEqual(app.log, [(0, "GET", 0), (0, "POST", 1000)], "the request went again")
        self.assertTrue(wait_until(lambda: "not retried" in h.stderr_text(), 3), h.stderr_text())
        self.assertAlive(h)

    def test_stale_pooled_connection_replays_a_spooled_body(self):
        """A chunked body is spooled whole first: the retry sends all of it."""
        app, h = self.stale_after_body()
        raw, _ = raw_exchange(h.address(), b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           b"Transfer-Encoding: chunked\r\n\r\n3e8\r\n" + b"c" * 1000
                                           + b"\r\n0\r\n\r\n")
        self.assertEqual(status_of(raw), 200, raw[:300])
        self.assertEqual(dechunk(raw.split(b"\r\n\r\n", 1)[1])[0], b"replayed 1000\n")
        self.assertEqual(app.log, [(0, "GET", 0), (0, "POST", 1000), (1, "POST", 1000)])

    def test_body_timeout(self):
        """--timeout-body between reads of a body for an application, as for
        a static file: 408."""
        h = self.start("--fastcgi", "*.fcgi=" + self.sock, "--timeout-body", "1")
        cases = (("chunked", b"Transfer-Encoding: chunked\r\n\r\n5\r\nab"),
                 ("length", b"Content-Length: 100\r\n\r\n0123456789"))
        for name, rest in cases:
            with self.subTest(body=name):
                t0 = time.monotonic()
                raw, how = raw_exchange(h.address(), b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\n" + rest,
                                        timeout=10)
                elapsed = time.monotonic() - t0
                self.assertNotEqual(how, "timeout")
                self.assertLess(elapsed, 4, raw[:100])
                self.assertEqual(status_of(raw), 408, raw[:200])
        # a body that keeps coming, slower than the timeout in all: answered
        s = socket.create_connection(h.address(), timeout=10)
        try:
            s.sendall(b"POST /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            for _ in range(5):
                time.sleep(0.5)
                s.sendall(b"2\r\nab\r\n")
            s.sendall(b"0\r\n\r\n")
            data = drain(s, 10)
        finally:
            s.close()
        self.assertEchoed(data, 10)
        self.assertAlive(h)

    def test_param_longer_than_a_record(self):
        """A header pair over 65535 bytes cannot be one PARAMS record: 431,
        never a record with a cut length; one just under goes whole."""
        h = self.start("--fastcgi", "*.fcgi=" + self.sock, "--max-header-size", "1m")
        raw, _ = raw_exchange(h.address(), b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           b"X-Big: " + b"v" * 70000 + b"\r\n\r\n")
        self.assertEqual(status_of(raw), 431, raw[:200])
        doc = echo(h.address(), headers={"X-Big": "w" * 65000})
        self.assertEqual(doc["params"]["HTTP_X_BIG"], "w" * 65000)
        self.assertAlive(h)

    def test_status_1xx_is_502(self):
        h = self.start("--fastcgi", "*.fcgi=" + self.sock)
        for code in ("100", "103", "199"):
            with self.subTest(code=code):
                st, _, _, data, _ = get(h.address(), "/status.fcgi?code=" + code)
                self.assertEqual(st, 502, data[:200])
        st, _, _, data, _ = get(h.address(), "/status.fcgi?code=299")
        self.assertEqual(st, 299)

    def test_no_100_continue_for_http10(self):
        h = self.start("--fastcgi", "*.fcgi=" + self.sock)
        for version, want in ((b"1.0", b""), (b"1.1", b"HTTP/1.1 100 Continue\r\n\r\n")):
            with self.subTest(version=version):
                s = socket.create_connection(h.address(), timeout=5)
                try:
                    s.sendall(b"POST /echo.fcgi HTTP/%s\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
                              b"Content-Length: 5\r\n\r\n" % version)
                    s.settimeout(1.0)
                    try:
                        early = s.recv(len(want) or 100)
                    except socket.timeout:
                        early = b""
                    self.assertEqual(early, want)
                    s.sendall(b"hello")
                    data = drain(s, 5)
                finally:
                    s.close()
                self.assertEchoed(data, 5)

    def test_local_redirect_too_long_is_502(self):
        """A Location path over 4095 bytes or a query over 511 cannot be
        followed as it is: 502, never another resource or a 200."""
        cases = ((b"/" + b"a" * 5000, 502), (b"/static.txt?" + b"q" * 600, 502),
                 (b"/static.txt?" + b"q" * 500, 200))
        for loc, want in cases:
            with self.subTest(length=len(loc)):
                app, h = self.scripted(canned(b"Location: " + loc + b"\r\n\r\n"))
                st, hd, _, data, _ = get(h.address(), "/echo.fcgi")
                self.assertEqual(st, want, data[:200])
                self.assertNotIn("location", hd)
                if want == 200:
                    self.assertEqual(data, STATIC)
                else:
                    self.assertTrue(wait_until(lambda: "local redirect" in h.stderr_text(), 3), h.stderr_text())

    def test_failed_request_after_output_is_cut(self):
        """END_REQUEST with a protocol status other than REQUEST_COMPLETE after
        the response began: no last chunk, the connection closes."""
        for status in (1, 2, 3):
            with self.subTest(protocol_status=status):
                app, h = self.scripted(canned(b"Content-Type: text/plain\r\n\r\npartial body\n", status))
                raw, how = raw_exchange(h.address(), b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
                self.assertNotEqual(how, "timeout", raw[:300])
                self.assertEqual(status_of(raw), 200)
                body, complete = dechunk(raw.split(b"\r\n\r\n", 1)[1])
                self.assertEqual((body, complete), (b"partial body\n", False))
                self.assertTrue(wait_until(lambda: "cutting the connection" in h.stderr_text(), 3), h.stderr_text())

    def test_no_abort_after_end_request(self):
        """A request the application ended with END_REQUEST is over for it: a
        failure found afterwards (its protocol status, with or without output)
        closes the connection without sending ABORT_REQUEST for a request id
        the application may already have reused."""
        for status, stdout in ((2, b""), (1, b""), (3, b"Content-Type: text/plain\r\n\r\npartial\n")):
            with self.subTest(protocol_status=status, output=bool(stdout)):
                def handler(app, no, s, status=status, stdout=stdout):
                    app.log.append(read_request(s))
                    s.sendall(answer(stdout, status))
                    app.log.append(drain(s, 5))  # what hearth sends after END_REQUEST
                app, h = self.scripted(handler)
                raw, how = raw_exchange(h.address(), b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
                self.assertNotEqual(how, "timeout", raw[:300])
                self.assertTrue(wait_until(lambda: len(app.log) == 2, 6), app.log)
                self.assertEqual(app.log[1], b"", "records after END_REQUEST")

    def test_unix_backlog_full_fails_at_once(self):
        """connect() to a Unix socket whose backlog is full says EAGAIN: no
        connection is coming, so 502 at once, not after connect-timeout."""
        path = os.path.join(self.dir, "full.sock")
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        fillers = []
        try:
            ls.bind(path)
            ls.listen(0)
            while len(fillers) < 64:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.setblocking(False)
                fillers.append(c)
                try:
                    c.connect(path)
                except BlockingIOError:
                    break
            else:
                self.skipTest("the backlog never filled")
            h = self.start("--fastcgi", "*.fcgi=unix:" + path)
            t0 = time.monotonic()
            st, _, _, data, _ = get(h.address(), "/echo.fcgi")
            self.assertEqual(st, 502, data[:200])
            self.assertLess(time.monotonic() - t0, 2.5)
            self.assertAlive(h)
        finally:
            for c in fillers:
                c.close()
            ls.close()

    def test_head_over_the_write_buffer_one_response(self):
        """A CGI head that fits the head buffer but not, as an HTTP head, the
        write buffer: one 500, not a 500 and then a 502."""
        head = b"Content-Type: text/plain\r\nX-Pad: "
        head += b"p" * (65530 - len(head) - 4) + b"\r\n\r\n"  # buffers: 16k + 48k
        app, h = self.scripted(canned(head + b"body\n"))
        raw, how = raw_exchange(h.address(), b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        self.assertNotEqual(how, "timeout")
        self.assertEqual(status_of(raw), 500, raw[:200])
        self.assertEqual(raw.count(b"HTTP/1.1 "), 1, raw[:1000])
        self.assertAlive(h)

    def test_records_after_the_end_of_stdout(self):
        """STDOUT after the empty STDOUT record, or a management record
        carrying the request's id: protocol errors (cut or 502)."""
        head = b"Content-Type: text/plain\r\n\r\nbody\n"
        late = (record(STDOUT, 1, head) + record(STDOUT, 1) + record(STDOUT, 1, b"late\n")
                + record(END_REQUEST, 1, struct.pack(">IB3x", 0, 0)))

        def after_end(app, no, s):
            app.log.append(read_request(s))
            s.sendall(late)
            drain(s, 2)
        app, h = self.scripted(after_end)
        raw, how = raw_exchange(h.address(), b"GET /echo.fcgi HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        self.assertNotEqual(how, "timeout", raw[:300])
        self.assertEqual(status_of(raw), 200)
        self.assertEqual(dechunk(raw.split(b"\r\n\r\n", 1)[1]), (b"body\n", False))

        def mgmt_with_id(app, no, s):
            app.log.append(read_request(s))
            s.sendall(record(11, 1, b"\x0c" + b"\0" * 7) + answer(head))
            drain(s, 2)
        app, h = self.scripted(mgmt_with_id)
        st, _, _, data, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual(st, 502, data[:200])
        self.assertAlive(h)

    def test_head_one_byte_per_record(self):
        head = b"Content-Type: text/plain\r\n" + b"".join(b"X-H%d: %s\r\n" % (k, b"v" * 300) for k in range(90))
        app, h = self.scripted(canned(head + b"\r\nthe body\n", size=1))
        st, hd, _, data, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual((st, data), (200, b"the body\n"))
        self.assertEqual(hd["x-h89"], "v" * 300)
        # a head whose end arrives one byte at a time: LF, CR, LF
        app, h = self.scripted(canned(b"Content-Type: text/plain\n\r\nbody", size=1))
        st, hd, _, data, _ = get(h.address(), "/echo.fcgi")
        self.assertEqual((st, data), (200, b"body"))
        # 64 KiB of short lines a byte a record, never ending: 502 at the limit,
        # in linear time (searching the whole head again per record: ~5 s here,
        # linear: 0.05 s, with ASan too)
        app, h = self.scripted(canned(b"Content-Type: text/plain\n" + b"a\n" * 32700, size=1))
        t0 = time.monotonic()
        st, _, _, data, _ = get(h.address(), "/echo.fcgi", timeout=30)
        self.assertEqual(st, 502, data[:200])
        self.assertLess(time.monotonic() - t0, 2.0, "the head is searched again for every record")


if __name__ == "__main__":
    unittest.main()
