"""Basic HTTP/1.1 conformance of hearth: static GET/HEAD, OPTIONS, 405/501,
request bodies on static paths, keep-alive and connection handling.

Standard library only; every socket has a timeout; readiness comes from the
harness (the "listening on" line), never from a fixed sleep.
"""
import email.utils
import http.client
import os
import socket
import time
import unittest

from harness import ServerTestCase, Server, TempRoot, raw_request, read_response

HELLO = b"Hello, hearth!\n" * 10
MTIME = 1700000000  # 2023-11-14T22:13:20Z
SOCK_TIMEOUT = 5.0


def allow_set(value):
    return {t.strip().upper() for t in value.split(",") if t.strip()}


def recv_closed(sock, timeout=SOCK_TIMEOUT):
    """True when the peer has closed: recv returns b"" (or the connection is
    reset). Fails the caller (returns False) if data arrives or it times out."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return data == b""


def send_all_tolerant(sock, data):
    """sendall, but a peer that already answered and closed is not an error."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class BasicTestCase(ServerTestCase):

    @classmethod
    def populate(cls, root):
        p = root.write("hello.txt", HELLO)
        os.utime(p, (MTIME, MTIME))
        root.write("page.html", b"<!doctype html><title>x</title><p>hi</p>\n")
        root.write("data.bin", bytes(range(256)) * 4)

    def conn(self):
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=SOCK_TIMEOUT)

    def raw(self):
        return self.server.connect(timeout=SOCK_TIMEOUT)

    def get(self, path, method="GET", headers=None, body=None):
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r, data
        finally:
            c.close()

    # --- GET / HEAD -----------------------------------------------------

    def check_file_headers(self, r, size):
        self.assertEqual(r.getheader("Content-Length"), str(size))
        ct = r.getheader("Content-Type", "")
        self.assertTrue(ct.lower().startswith("text/plain"), ct)
        self.assertIn("charset=utf-8", ct.lower().replace(" ", ""))
        self.assertEqual(r.getheader("Server"), "hearth")
        date = r.getheader("Date")
        self.assertIsNotNone(date)
        d = email.utils.parsedate_to_datetime(date)
        self.assertLess(abs(d.timestamp() - time.time()), 10, date)
        self.assertTrue(date.endswith(" GMT"), date)
        lm = r.getheader("Last-Modified")
        self.assertEqual(lm, email.utils.formatdate(MTIME, usegmt=True))
        etag = r.getheader("ETag")
        self.assertIsNotNone(etag)
        self.assertFalse(etag.startswith("W/"), "ETag must be strong: %r" % etag)
        self.assertTrue(etag.startswith('"') and etag.endswith('"') and len(etag) > 2, etag)
        self.assertEqual(r.getheader("Accept-Ranges"), "bytes")
        return etag

    def test_get_file(self):
        r, body = self.get("/hello.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.version, 11)
        self.assertEqual(body, HELLO)
        etag1 = self.check_file_headers(r, len(HELLO))
        # the ETag is stable across requests
        r2, _ = self.get("/hello.txt")
        self.assertEqual(r2.getheader("ETag"), etag1)

    def test_get_html_and_binary_types(self):
        r, body = self.get("/page.html")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type", "").lower().startswith("text/html"))
        r, body = self.get("/data.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(body, bytes(range(256)) * 4)
        self.assertEqual(r.getheader("Content-Type"), "application/octet-stream")

    def test_head_file(self):
        r, body = self.get("/hello.txt", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(body, b"")
        etag = self.check_file_headers(r, len(HELLO))
        r2, _ = self.get("/hello.txt")
        self.assertEqual(etag, r2.getheader("ETag"))

    def test_head_sends_no_body_on_the_wire(self):
        # HEAD then GET pipelined: the GET's status line must follow the
        # HEAD's head immediately (no body bytes in between).
        s = self.raw()
        try:
            s.sendall(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            status, headers, _, rest = read_response(s, head_only=True)
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-length"], str(len(HELLO)))
            while len(rest) < 12:
                b = s.recv(65536)
                if not b:
                    break
                rest += b
            self.assertTrue(rest.startswith(b"HTTP/1.1 200"), rest[:80])
        finally:
            s.close()

    def test_404_has_html_body(self):
        r, body = self.get("/does-not-exist.txt")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.getheader("Content-Type", "").lower().startswith("text/html"),
                        r.getheader("Content-Type"))
        self.assertEqual(r.getheader("Content-Length"), str(len(body)))
        self.assertGreater(len(body), 0)
        self.assertIn(b"<", body)
        self.assertIn(b"404", body)
        self.assertEqual(r.getheader("Server"), "hearth")
        self.assertIsNotNone(r.getheader("Date"))

    def test_head_404_has_no_body(self):
        r, body = self.get("/does-not-exist.txt", method="HEAD")
        self.assertEqual(r.status, 404)
        self.assertEqual(body, b"")

    # --- OPTIONS --------------------------------------------------------

    def test_options_asterisk(self):
        resp = raw_request(self.server.address(),
                           b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        head = resp.split(b"\r\n\r\n", 1)[0].decode()
        self.assertTrue(head.startswith("HTTP/1.1 204"), head)
        allow = [l.split(":", 1)[1] for l in head.split("\r\n")[1:] if l.lower().startswith("allow:")]
        self.assertEqual(len(allow), 1, head)
        self.assertTrue({"GET", "HEAD", "OPTIONS"} <= allow_set(allow[0]), allow)
        # 204: nothing after the head
        self.assertEqual(resp.split(b"\r\n\r\n", 1)[1], b"")

    def test_options_file(self):
        r, body = self.get("/hello.txt", method="OPTIONS")
        self.assertEqual(r.status, 204)
        self.assertEqual(body, b"")
        self.assertTrue({"GET", "HEAD", "OPTIONS"} <= allow_set(r.getheader("Allow", "")),
                        r.getheader("Allow"))

    # --- 405 with bodies, 501 ------------------------------------------

    def test_405_without_body(self):
        for m in ("POST", "PUT", "DELETE"):
            with self.subTest(method=m):
                r, body = self.get("/hello.txt", method=m)
                self.assertEqual(r.status, 405)
                allow = allow_set(r.getheader("Allow", ""))
                self.assertTrue({"GET", "HEAD"} <= allow, allow)
                self.assertNotIn(m, allow)

    def test_405_content_length_body_then_same_connection(self):
        for m in ("POST", "PUT", "DELETE"):
            with self.subTest(method=m):
                s = self.raw()
                try:
                    body = b"a=1&b=" + b"x" * 3000
                    s.sendall(b"%s /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                              b"Content-Type: application/x-www-form-urlencoded\r\n\r\n%s"
                              % (m.encode(), len(body), body))
                    status, headers, _, rest = read_response(s)
                    self.assertEqual(status, 405)
                    self.assertTrue({"GET", "HEAD"} <= allow_set(headers.get("allow", "")))
                    self.assertEqual(rest, b"")
                    self.assertNotEqual(headers.get("connection", "").lower(), "close")
                    # same connection, next request still in sync
                    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                    status, headers, data, rest = read_response(s)
                    self.assertEqual(status, 200)
                    self.assertEqual(data, HELLO)
                finally:
                    s.close()

    def test_405_chunked_body_then_same_connection(self):
        for m in ("POST", "PUT", "DELETE"):
            with self.subTest(method=m):
                s = self.raw()
                try:
                    # chunk extensions, trailers, and a body that looks like a request
                    chunked = (b"5;ext=1\r\nhello\r\n"
                               b"1A\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n"
                               b"0\r\nX-Trailer: yes\r\n\r\n")
                    s.sendall(b"%s /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              % m.encode() + chunked)
                    status, headers, _, rest = read_response(s)
                    self.assertEqual(status, 405)
                    self.assertTrue({"GET", "HEAD"} <= allow_set(headers.get("allow", "")))
                    self.assertEqual(rest, b"")
                    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                    status, headers, data, rest = read_response(s)
                    self.assertEqual(status, 200, "body was not discarded in sync")
                    self.assertEqual(data, HELLO)
                    self.assertEqual(rest, b"")
                finally:
                    s.close()

    def test_405_bodies_with_http_client(self):
        c = self.conn()
        try:
            c.request("POST", "/hello.txt", body=b"x" * 100)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 405)
            c.request("PUT", "/hello.txt", body=iter([b"abc", b"defg", b"h" * 1000]),
                      encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 405)
            c.request("GET", "/hello.txt")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), HELLO)
        finally:
            c.close()

    def test_405_pipelined_with_body(self):
        # body + next request arrive in one segment
        s = self.raw()
        try:
            s.sendall(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"
                      b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _, rest = read_response(s)
            self.assertEqual(status, 405)
            # read_response may have swallowed part of the next response into rest
            buf = rest
            while HELLO not in buf:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
            self.assertTrue(buf.startswith(b"HTTP/1.1 200"), buf[:80])
            self.assertTrue(buf.endswith(HELLO))
        finally:
            s.close()

    def test_malformed_chunked_body_is_400(self):
        bodies = [
            b"zz\r\nhello\r\n0\r\n\r\n",                   # invalid hex
            b"5\r\nhelloXX0\r\n\r\n",                      # missing CRLF after data
            b"fffffffffffffffffff\r\nx\r\n0\r\n\r\n",      # size overflow
            b"-5\r\nhello\r\n0\r\n\r\n",                   # sign
        ]
        for body in bodies:
            with self.subTest(body=body):
                s = self.raw()
                try:
                    send_all_tolerant(s, b"POST /hello.txt HTTP/1.1\r\nHost: t\r\n"
                                         b"Transfer-Encoding: chunked\r\n\r\n" + body)
                    status, headers, _, rest = read_response(s)
                    self.assertEqual(status, 400)
                    self.assertEqual(headers.get("connection", "").lower(), "close")
                    self.assertEqual(rest, b"")
                    self.assertTrue(recv_closed(s), "connection not closed after 400")
                finally:
                    s.close()

    def test_unknown_method_501(self):
        for m in (b"FOO", b"BREW", b"get", b"PROPFIND"):
            with self.subTest(method=m):
                resp = raw_request(self.server.address(),
                                   m + b" /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                self.assertTrue(resp.startswith(b"HTTP/1.1 501"), resp[:80])

    def test_post_missing_path_404(self):
        r, _ = self.get("/nope.txt", method="POST", body=b"abc")
        self.assertEqual(r.status, 404)

    # --- connection management -----------------------------------------

    def test_http10_closes_by_default(self):
        s = self.raw()
        try:
            s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            status, headers, body, rest = read_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(body, HELLO)
            self.assertNotEqual(headers.get("connection", "").lower(), "keep-alive")
            self.assertTrue(recv_closed(s), "HTTP/1.0 connection not closed")
        finally:
            s.close()

    def test_http10_keep_alive(self):
        s = self.raw()
        try:
            for i in range(3):
                s.sendall(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                status, headers, body, rest = read_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(body, HELLO)
                self.assertEqual(rest, b"")
                self.assertEqual(headers.get("connection", "").lower(), "keep-alive")
            s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            status, headers, body, rest = read_response(s)
            self.assertEqual(status, 200)
            self.assertTrue(recv_closed(s))
        finally:
            s.close()

    def test_connection_close(self):
        s = self.raw()
        try:
            s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            status, headers, body, rest = read_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(body, HELLO)
            self.assertEqual(headers.get("connection", "").lower(), "close")
            self.assertEqual(rest, b"")
            self.assertTrue(recv_closed(s), "Connection: close not honoured")
        finally:
            s.close()

    def test_connection_close_in_a_list(self):
        resp = raw_request(self.server.address(),
                           b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: foo, Close\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:80])
        self.assertTrue(resp.endswith(HELLO))

    def test_keep_alive_reuse(self):
        c = self.conn()
        try:
            names = set()
            for i in range(10):
                c.request("GET", "/hello.txt")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.read(), HELLO)
                self.assertFalse(r.will_close, "server asked to close on request %d" % i)
                names.add(c.sock.getsockname())
            self.assertEqual(len(names), 1, "http.client had to reconnect: %r" % names)
        finally:
            c.close()

    def test_keep_alive_mixed_statuses(self):
        s = self.raw()
        try:
            for path, want in ((b"/hello.txt", 200), (b"/missing", 404), (b"/hello.txt", 200)):
                s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
                status, headers, body, rest = read_response(s)
                self.assertEqual(status, want)
                self.assertEqual(rest, b"")
        finally:
            s.close()

    def test_absolute_form_target(self):
        resp = raw_request(self.server.address(),
                           b"GET http://example.com/hello.txt HTTP/1.1\r\nHost: example.com\r\n"
                           b"Connection: close\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:80])
        self.assertTrue(resp.endswith(b"\r\n\r\n" + HELLO))

    def test_absolute_form_with_port_and_query(self):
        resp = raw_request(self.server.address(),
                           b"GET http://example.com:8080/hello.txt?x=1 HTTP/1.1\r\nHost: other.example\r\n"
                           b"Connection: close\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:80])
        self.assertTrue(resp.endswith(HELLO))

    def test_query_string_ignored_for_files(self):
        r, body = self.get("/hello.txt?a=1&b=2")
        self.assertEqual(r.status, 200)
        self.assertEqual(body, HELLO)

    def test_expect_100_continue_gets_final_status(self):
        s = self.raw()
        try:
            s.sendall(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            status, headers, body, rest = read_response(s, head_only=True)
            if status == 100:
                # interim response: send the body, then the final status must come
                self.assertEqual(rest, b"")
                s.sendall(b"0123456789")
                status, headers, body, rest = read_response(s)
            else:
                # a final status straight away is fine too
                pass
            self.assertEqual(status, 405)
        finally:
            s.close()

    def test_expect_100_continue_ignored_for_http10(self):
        # RFC 9110 10.1.1: an HTTP/1.0 client's expectation is ignored; its
        # body is read and the connection goes on
        s = self.raw()
        try:
            s.sendall(b"POST /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            time.sleep(0.2)
            s.sendall(b"hello")
            status, headers, body, rest = _read_with_leftover(s, b"")
            self.assertEqual(status, 405)
            self.assertNotEqual(headers.get("connection", "").lower(), "close", headers)
            s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            status, headers, body, rest = _read_with_leftover(s, rest)
            self.assertEqual((status, body), (200, HELLO))
        finally:
            s.close()

    def test_expect_100_continue_body_sent_at_once_then_reuse(self):
        # clients may send the body without waiting for 100 Continue
        s = self.raw()
        try:
            s.sendall(b"PUT /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\nhello")
            status, headers, body, rest = _read_with_leftover(s, b"")
            if status == 100:
                status, headers, body, rest = _read_with_leftover(s, rest)
            self.assertEqual(status, 405)
            if headers.get("connection", "").lower() != "close":
                s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                status, headers, body, rest = _read_with_leftover(s, rest)
                self.assertEqual((status, body), (200, HELLO))
        finally:
            s.close()

    def test_pipelined_requests_in_order(self):
        s = self.raw()
        try:
            reqs = b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % p
                            for p in (b"hello.txt", b"missing", b"page.html", b"hello.txt"))
            s.sendall(reqs)
            seen = []
            rest = b""
            for _ in range(4):
                # read_response reads from the socket; feed leftovers back first
                status, headers, body, rest = _read_with_leftover(s, rest)
                seen.append(status)
            self.assertEqual(seen, [200, 404, 200, 200])
        finally:
            s.close()


def _read_with_leftover(sock, buf):
    """Like read_response but starting with bytes already received."""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("closed before head: %r" % buf)
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers[k.strip().lower().decode()] = v.strip().decode()
    n = 0 if status in (204, 304) or status < 200 else int(headers.get("content-length", "0"))
    while len(rest) < n:
        b = sock.recv(65536)
        if not b:
            raise EOFError("short body")
        rest += b
    return status, headers, rest[:n], rest[n:]


class KeepaliveCapTestCase(ServerTestCase):
    server_args = ("--keepalive-requests", "3")

    @classmethod
    def populate(cls, root):
        root.write("a.txt", b"abc")

    def test_third_response_closes(self):
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            for i in range(1, 4):
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                status, headers, body, rest = read_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(body, b"abc")
                self.assertEqual(rest, b"")
                conn = headers.get("connection", "").lower()
                if i < 3:
                    self.assertNotEqual(conn, "close", "request %d" % i)
                else:
                    self.assertEqual(conn, "close", "request %d" % i)
            self.assertTrue(recv_closed(s), "socket not closed after the capped request")
        finally:
            s.close()

    def test_cap_with_pipelining(self):
        # 4 requests in one go: exactly 3 responses, the last says close
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            send_all_tolerant(s, b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n" * 4)
            data = b""
            while True:
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    break
                if not b:
                    break
                data += b
            self.assertEqual(data.count(b"HTTP/1.1 200"), 3, data)
            last = data.rsplit(b"HTTP/1.1 200", 1)[1]
            self.assertIn(b"connection: close", last.lower())
        finally:
            s.close()


class MaxBodySizeTestCase(ServerTestCase):
    server_args = ("--max-body-size", "1k")

    @classmethod
    def populate(cls, root):
        root.write("a.txt", b"abc")

    def _expect_413_and_close(self, request):
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            send_all_tolerant(s, request)
            status, headers, _, rest = read_response(s)
            self.assertEqual(status, 413)
            self.assertEqual(rest, b"")
            self.assertEqual(headers.get("connection", "").lower(), "close")
            self.assertTrue(recv_closed(s), "connection not closed after 413")
        finally:
            s.close()

    def test_content_length_over_limit(self):
        body = b"x" * 5000
        self._expect_413_and_close(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                                   % (len(body), body))

    def test_content_length_over_limit_head_only(self):
        # the server must not wait for a body it is going to refuse anyway...
        # but if it does read it, the body follows and a final status must come.
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            s.sendall(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n")
            status, headers, _, rest = read_response(s)
            self.assertEqual(status, 413)
            self.assertTrue(recv_closed(s))
        finally:
            s.close()

    def test_chunked_over_limit(self):
        chunk = b"x" * 600
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        self._expect_413_and_close(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   + body)

    def test_under_limit_is_405(self):
        body = b"x" * 1000
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            s.sendall(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            status, headers, _, rest = read_response(s)
            self.assertEqual(status, 405)
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, data, rest = read_response(s)
            self.assertEqual((status, data), (200, b"abc"))
        finally:
            s.close()

    def test_server_alive_afterwards(self):
        r = raw_request(self.server.address(), b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 200"))


if __name__ == "__main__":
    unittest.main()
