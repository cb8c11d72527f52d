"""Malformed and hostile requests (RFC 9112 parsing rules of issue 2).

Each case sends raw bytes on a fresh connection and checks: exactly one
response with the expected status, "Connection: close", and that the server
then closes the connection (recv returns b"" or the connection is reset after
the response arrived). After each case, and once more at the end, a normal
request must still be answered: a bad request never takes the server down.
"""
import socket
import unittest

from harness import ServerTestCase, raw_request, read_response

BODY = b"file body\n"
SOCK_TIMEOUT = 5.0


def exchange(addr, data, timeout=SOCK_TIMEOUT):
    """Send data (tolerating an early close), read until the server closes.
    Returns (received bytes, closed) where closed is False on a timeout."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        closed = False
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            chunks.append(b)
        return b"".join(chunks), closed
    finally:
        s.close()


def parse_responses(data):
    """Split a byte stream into responses (Content-Length framed).
    Returns a list of (status, headers, body) and the unparsed tail."""
    out = []
    while data:
        if b"\r\n\r\n" not in data:
            break
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            break
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(b":", 1)
            headers.setdefault(k.strip().lower().decode(), v.strip().decode())
        n = 0 if status in (204, 304) or 100 <= status < 200 else int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out, data


def req(*lines, body=b""):
    """Build a request from header lines, CRLF-terminated."""
    return b"".join(l + b"\r\n" for l in lines) + b"\r\n" + body


class MalformedTestCase(ServerTestCase):

    @classmethod
    def populate(cls, root):
        root.write("file.txt", BODY)
        root.write("index.html", b"<p>index</p>\n")

    def assert_alive(self):
        data = raw_request(self.server.address(),
                           b"GET /file.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), "server not answering after a bad request: %r"
                        % data[:100])
        self.assertTrue(data.endswith(BODY))
        self.assertTrue(self.server.alive(), self.server.stderr_text())

    def reject(self, data, statuses):
        """Send data; expect exactly one response with a status in statuses,
        Connection: close, and the connection closed afterwards."""
        if isinstance(statuses, int):
            statuses = (statuses,)
        got, closed = exchange(self.server.address(), data)
        resps, tail = parse_responses(got)
        self.assertTrue(resps, "no response to %r: got %r" % (data[:200], got[:200]))
        status, headers, body = resps[0]
        self.assertIn(status, statuses, "request %r answered %r" % (data[:200], got[:300]))
        self.assertEqual(len(resps), 1, "more than one response (smuggling?) to %r: %r" % (data[:200], got))
        self.assertEqual(tail, b"", "garbage after the response: %r" % tail[:200])
        self.assertEqual(headers.get("connection", "").lower(), "close",
                         "no Connection: close on %d for %r" % (status, data[:200]))
        self.assertTrue(closed, "connection left open after %d for %r" % (status, data[:200]))
        self.assertEqual(headers.get("server"), "hearth")
        self.assertIn("date", headers)
        self.assert_alive()
        return status, headers, body

    def cases(self, cases, statuses):
        for data in cases:
            with self.subTest(request=data[:120]):
                self.reject(data, statuses)

    # --- limits --------------------------------------------------------

    def test_request_line_too_long_414(self):
        self.reject(req(b"GET /" + b"a" * 9000 + b" HTTP/1.1", b"Host: t"), 414)

    def test_request_line_too_long_without_end_414(self):
        # no line end yet: the server must not wait for one forever
        self.reject(b"GET /" + b"a" * 12000, 414)

    def test_request_line_just_under_limit_ok(self):
        # about 8000 bytes (a long query): under the 8 KiB limit, served
        line = b"GET /file.txt?" + b"a" * 7900 + b" HTTP/1.1"
        got, _ = exchange(self.server.address(), req(line, b"Host: t", b"Connection: close"))
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])

    def test_header_section_too_big_431(self):
        self.reject(req(b"GET /file.txt HTTP/1.1", b"Host: t",
                        *[b"X-Pad-%d: %s" % (i, b"v" * 1000) for i in range(18)]), 431)

    def test_single_huge_field_431(self):
        self.reject(req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-Big: " + b"v" * 17000), 431)

    def test_too_many_fields_431(self):
        self.reject(req(b"GET /file.txt HTTP/1.1", b"Host: t",
                        *[b"X-F%d: v" % i for i in range(101)]), 431)

    def test_hundred_fields_ok(self):
        # 100 fields including Host (and Connection) is within the limit
        got, _ = exchange(self.server.address(),
                          req(b"GET /file.txt HTTP/1.1", b"Host: t", b"Connection: close",
                              *[b"X-F%d: v" % i for i in range(98)]))
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])

    # --- field syntax --------------------------------------------------

    def test_whitespace_before_colon(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host : t"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A : b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A\t: b"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length : 5", body=b"hello"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding : chunked",
                body=b"0\r\n\r\n"),
        ], 400)

    def test_obs_fold(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a", b" b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a", b"\tb"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding:", b" chunked",
                body=b"0\r\n\r\n"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: 0", b" 5", body=b"hello"),
            # a fold right after the request line (no field to continue)
            req(b"GET /file.txt HTTP/1.1", b" Host: t"),
        ], 400)

    def test_bare_cr(self):
        self.cases([
            b"GET /file.txt HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
            b"GET /file.txt HTTP/1.1\rHost: t\r\n\r\n",
            b"GET /file.txt HTTP/1.1\r\nHost: t\r\nX-A: a\r\r\n\r\n",
            b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\r\n",
            b"GET /fi\rle.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        ], 400)

    def test_control_characters_in_fields(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a\x00b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a\x7fb"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a\x01b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a\x1bb"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t\x00"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-\x00A: b"),
        ], 400)

    def test_htab_and_obs_text_in_value_ok(self):
        # HTAB and bytes >= 0x80 are allowed in field values (RFC 9110 5.5)
        got, _ = exchange(self.server.address(),
                          req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X-A: a\tb",
                              b"X-B: caf\xc3\xa9", b"Connection: close"))
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])

    def test_invalid_token_characters(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X(A): b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X@A: b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X\"A: b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"X\xc3\xa9: b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b": empty-name"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"no-colon-here"),
            req(b"G(T /file.txt HTTP/1.1", b"Host: t"),
            req(b"GE\x00T /file.txt HTTP/1.1", b"Host: t"),
            req(b"G\xc3\xa9T /file.txt HTTP/1.1", b"Host: t"),
        ], 400)

    # --- Host ------------------------------------------------------------

    def test_missing_host_http11(self):
        self.reject(req(b"GET /file.txt HTTP/1.1"), 400)
        self.reject(req(b"GET /file.txt HTTP/1.1", b"User-Agent: x"), 400)

    def test_http10_without_host_ok(self):
        got, closed = exchange(self.server.address(), req(b"GET /file.txt HTTP/1.0"))
        self.assertTrue(got.startswith(b"HTTP/1.1 200") or got.startswith(b"HTTP/1.0 200"), got[:100])
        self.assertTrue(closed)

    def test_two_host_fields(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"Host: t"),
            req(b"GET /file.txt HTTP/1.1", b"Host: a", b"Host: b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: a", b"X: y", b"host: b"),
            req(b"GET /file.txt HTTP/1.1", b"Host: a, b"),
        ], 400)

    def test_bad_host_values(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1", b"Host: user@example.com"),
            req(b"GET /file.txt HTTP/1.1", b"Host: user:pw@example.com"),
            req(b"GET /file.txt HTTP/1.1", b"Host: exa mple.com"),
            req(b"GET /file.txt HTTP/1.1", b"Host: example.com:abc"),
            req(b"GET /file.txt HTTP/1.1", b"Host: example.com:80a"),
            req(b"GET /file.txt HTTP/1.1", b"Host: example.com/path"),
            req(b"GET /file.txt HTTP/1.1", b"Host: [::1"),
            req(b"GET /file.txt HTTP/1.1", b"Host: %zz"),
            req(b"GET /file.txt HTTP/1.1", b"Host: ex%4"),
        ], 400)

    def test_good_host_values_ok(self):
        for host in (b"example.com", b"example.com:8080", b"127.0.0.1:80", b"[::1]:8080", b"[::1]",
                     b"EXAMPLE.com"):
            with self.subTest(host=host):
                got, _ = exchange(self.server.address(),
                                  req(b"GET /file.txt HTTP/1.1", b"Host: " + host, b"Connection: close"))
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])

    # --- framing: Content-Length / Transfer-Encoding -------------------

    def test_content_length_not_plain_digits(self):
        for cl in (b"+5", b"-5", b"5a", b"0x5", b"5 5", b"", b"1e1", b"5.0", b"5,6", b"5, x"):
            with self.subTest(cl=cl):
                self.reject(req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: " + cl,
                                body=b"hello"), 400)

    def test_content_length_list_of_identical_values(self):
        # the issue: "Content-Length that is not plain digits -> 400"; a list,
        # even of identical values (which RFC 9110 8.6 lets a recipient
        # accept), is not plain digits.
        for cl in (b"5,5", b"5, 5"):
            with self.subTest(cl=cl):
                self.reject(req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: " + cl,
                                body=b"hello"), 400)

    def test_content_length_overflow(self):
        # plain digits, but more than 64 bits: a framing error (or, at the
        # least, over the body limit)
        self.reject(req(b"POST /file.txt HTTP/1.1", b"Host: t",
                        b"Content-Length: 99999999999999999999999999", body=b"hello"), (400, 413))

    def test_differing_content_length(self):
        self.reject(req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: 5",
                        b"Content-Length: 6", body=b"hello!"), 400)
        self.reject(req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: 6",
                        b"X: y", b"content-length: 5", body=b"hello!"), 400)

    def test_content_length_and_transfer_encoding(self):
        # the classic CL.TE / TE.CL smuggling shapes: one 400, nothing smuggled
        smuggled = b"GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        self.cases([
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Content-Length: 5",
                b"Transfer-Encoding: chunked", body=b"0\r\n\r\n" + smuggled),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked",
                b"Content-Length: 4", body=b"5c\r\n" + smuggled + b"\r\n0\r\n\r\n"),
            req(b"GET /file.txt HTTP/1.1", b"Host: t", b"Content-Length: 0",
                b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        ], 400)

    def test_transfer_encoding_chunked_not_last(self):
        # chunked must be the final coding of a request; whether the server
        # says 400 (bad framing) or 501 (unknown coding first), it must close.
        self.cases([
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked, gzip",
                body=b"0\r\n\r\n"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked",
                b"Transfer-Encoding: identity", body=b"0\r\n\r\n"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked, chunked",
                body=b"0\r\n\r\n"),
        ], (400, 501))

    def test_unknown_transfer_coding_501(self):
        self.cases([
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: foo", body=b"abc"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: xchunked",
                body=b"0\r\n\r\n"),
            req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: foo, chunked",
                body=b"0\r\n\r\n"),
        ], 501)

    def test_chunk_size_invalid(self):
        head = req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
        self.cases([
            head + b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",      # overflows 64 bits
            head + b"10000000000000000\r\nabc\r\n0\r\n\r\n",        # 2^64
            head + b"5g\r\nhello\r\n0\r\n\r\n",
            head + b"0x5\r\nhello\r\n0\r\n\r\n",
            head + b"+5\r\nhello\r\n0\r\n\r\n",
            head + b"-1\r\nh\r\n0\r\n\r\n",
            head + b"\r\nhello\r\n0\r\n\r\n",                         # empty size
            head + b" 5\r\nhello\r\n0\r\n\r\n",                       # leading space
            head + b"5\r\nhello0\r\n\r\n",                            # no CRLF after data
            head + b"3\r\nhello\r\n0\r\n\r\n",                        # size does not match data
        ], 400)

    def test_http10_with_transfer_encoding(self):
        # RFC 9112 §6.1: faulty framing in HTTP/1.0, keep-alive or not
        self.cases([
            req(b"POST /file.txt HTTP/1.0", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
            req(b"POST /file.txt HTTP/1.0", b"Connection: keep-alive", b"Transfer-Encoding: chunked",
                body=b"0\r\n\r\n" + req(b"GET /file.txt HTTP/1.0")),
        ], 400)

    def test_chunk_extensions_bounded(self):
        # each line under the per-line limit; together they are over the
        # per-body one, long before the decoded megabyte
        head = req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
        self.reject(head + (b"1;" + b"a" * 3000 + b"\r\nx\r\n") * 10 + b"0\r\n\r\n", 400)

    def test_chunk_extension_grammar(self):
        head = req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
        self.cases([
            head + b"3 junk junk\r\nabc\r\n0\r\n\r\n",
            head + b"3;a b\r\nabc\r\n0\r\n\r\n",
            head + b"3;\r\nabc\r\n0\r\n\r\n",
            head + b"3;a=\"b\r\nabc\r\n0\r\n\r\n",
            head + b"3;a=b/c\r\nabc\r\n0\r\n\r\n",
        ], 400)

    def test_trailer_field_syntax(self):
        head = req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
        self.cases([
            head + b"0\r\nX-T : 1\r\n\r\n",
            head + b"0\r\nX-T\r\n\r\n",
            head + b"0\r\nX(T): 1\r\n\r\n",
            head + b"0\r\nX-T: 1\r\n folded\r\n\r\n",
        ], 400)

    def test_chunked_with_extensions_and_trailers_ok(self):
        s = self.server.connect(timeout=SOCK_TIMEOUT)
        try:
            s.sendall(req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
                      + b"5;a=b;c=\"d\"\r\nhello\r\n3 ; x = \"\\\"\"\r\nabc\r\n0\r\nX-T: 1\r\nY-T:2\r\n\r\n")
            status, headers, body, rest = read_response(s)
            self.assertEqual(status, 405)
            s.sendall(req(b"GET /file.txt HTTP/1.1", b"Host: t"))
            status, headers, body, rest = read_response(s)
            self.assertEqual((status, body), (200, BODY))
        finally:
            s.close()

    # --- request line --------------------------------------------------

    def test_http_version_505(self):
        self.cases([
            req(b"GET /file.txt HTTP/2.0", b"Host: t"),
            req(b"GET /file.txt HTTP/3.0", b"Host: t"),
            req(b"GET /file.txt HTTP/0.9", b"Host: t"),
        ], 505)

    def test_higher_minor_version_served_as_11(self):
        # RFC 9110 §2.5: 1.2 .. 1.9 are answered as 1.1 would be
        for v in (b"1.2", b"1.9"):
            with self.subTest(version=v):
                got, closed = exchange(self.server.address(),
                                       req(b"GET /file.txt HTTP/" + v, b"Host: t", b"Connection: close"))
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])
                self.assertTrue(got.endswith(BODY))

    def test_connect_not_a_proxy_501(self):
        self.cases([
            req(b"CONNECT a:443 HTTP/1.1", b"Host: a:443"),
            req(b"CONNECT [::1]:443 HTTP/1.1", b"Host: a"),
        ], 501)
        self.reject(req(b"CONNECT a HTTP/1.1", b"Host: a"), 400)

    def test_bad_method_byte_answered_before_the_line_ends(self):
        # no LF yet: the first bytes alone are enough for a 400, not the
        # header timeout (a TLS ClientHello sent to a plain HTTP port)
        for data in (b"G\x01T / HTTP/1.1", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
            with self.subTest(request=data):
                got, closed = exchange(self.server.address(), data, timeout=3.0)
                self.assertTrue(got.startswith(b"HTTP/1.1 400"), got[:100])
                self.assertTrue(closed)
        self.assert_alive()

    def test_malformed_version(self):
        self.cases([
            req(b"GET /file.txt HTTP/1.1x", b"Host: t"),
            req(b"GET /file.txt HTTP/11", b"Host: t"),
            req(b"GET /file.txt HTTP/1.", b"Host: t"),
            req(b"GET /file.txt HTTPS/1.1", b"Host: t"),
            req(b"GET /file.txt", b"Host: t"),
        ], (400, 505))

    def test_lowercase_http_name(self):
        # HTTP-name is case-sensitive: "http/1.1" is not a valid version
        self.reject(req(b"GET /file.txt http/1.1", b"Host: t"), (400, 505))

    def test_space_in_target(self):
        self.reject(req(b"GET /a b HTTP/1.1", b"Host: t"), 400)
        self.reject(req(b"GET /file.txt HTTP/1.1 extra", b"Host: t"), (400, 505))

    def test_non_ascii_target(self):
        self.cases([
            req(b"GET /caf\xc3\xa9 HTTP/1.1", b"Host: t"),
            req(b"GET /\xff HTTP/1.1", b"Host: t"),
            req(b"GET /file.txt?q=\xc3\xa9 HTTP/1.1", b"Host: t"),
            req(b"GET /a\x01b HTTP/1.1", b"Host: t"),
            req(b"GET /a\x7fb HTTP/1.1", b"Host: t"),
            req(b"GET /a\x00b HTTP/1.1", b"Host: t"),
            req(b"GET /a\tb HTTP/1.1", b"Host: t"),
        ], 400)

    def test_percent_encoded_utf8_target_ok(self):
        # the same name percent-encoded is a normal (404) request
        got, _ = exchange(self.server.address(),
                          req(b"GET /caf%C3%A9 HTTP/1.1", b"Host: t", b"Connection: close"))
        self.assertTrue(got.startswith(b"HTTP/1.1 404"), got[:100])

    def test_empty_request_line(self):
        # a request line that is just spaces / a lone method
        self.cases([
            req(b" ", b"Host: t"),
            req(b"GET", b"Host: t"),
            req(b"GET ", b"Host: t"),
            req(b" /file.txt HTTP/1.1", b"Host: t"),
        ], 400)

    def test_bad_target_forms(self):
        # a target that is neither origin-form, absolute-form nor "*"
        self.reject(req(b"GET file.txt HTTP/1.1", b"Host: t"), 400)

    # --- bare LF ------------------------------------------------------

    def test_bare_lf_request_accepted(self):
        got, closed = exchange(self.server.address(),
                               b"GET /file.txt HTTP/1.1\nHost: t\nConnection: close\n\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:100])
        self.assertTrue(got.endswith(BODY))

    def test_bare_lf_keep_alive_pipelined(self):
        got, closed = exchange(self.server.address(),
                               b"GET /file.txt HTTP/1.1\nHost: t\n\n"
                               b"GET /index.html HTTP/1.1\nHost: t\nConnection: close\n\n")
        resps, tail = parse_responses(got)
        self.assertEqual([r[0] for r in resps], [200, 200], got[:300])
        self.assertEqual(resps[0][2], BODY)
        self.assertEqual(resps[1][2], b"<p>index</p>\n")

    def test_mixed_line_endings_consistent(self):
        # the LF-terminated lines are lines like any other: the 5-byte body is
        # consumed and the next request parsed in sync
        got, closed = exchange(self.server.address(),
                               b"POST /file.txt HTTP/1.1\r\nHost: t\nContent-Length: 5\r\n\nhello"
                               b"GET /file.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        resps, tail = parse_responses(got)
        statuses = [r[0] for r in resps]
        # accepted (bare LF is a line end everywhere) or refused outright:
        # never a desynchronised third reading
        self.assertIn(statuses, ([405, 200], [400]), got[:400])
        if statuses == [405, 200]:
            self.assertEqual(resps[1][2], BODY)
        self.assertTrue(closed)
        self.assert_alive()

    def test_bare_lf_in_chunked_body_stays_in_sync(self):
        # accepted (405, then the next request answered) or refused (400 and
        # close): either way no desynchronisation.
        got, closed = exchange(self.server.address(),
                               req(b"POST /file.txt HTTP/1.1", b"Host: t", b"Transfer-Encoding: chunked")
                               + b"5\nhello\n0\n\n"
                               + b"GET /file.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        resps, tail = parse_responses(got)
        statuses = [r[0] for r in resps]
        self.assertIn(statuses, ([405, 200], [400]), got[:400])
        self.assertTrue(closed)
        self.assert_alive()

    def test_bare_cr_hides_no_content_length(self):
        # "X: a\rContent-Length: 5" must not be read as two fields
        self.reject(b"POST /file.txt HTTP/1.1\r\nHost: t\r\nX: a\rContent-Length: 30\r\n\r\n"
                    b"GET /file.txt HTTP/1.1\r\n\r\n", 400)

    # --- the server survived all of it --------------------------------

    def test_zz_still_alive(self):
        self.assert_alive()
        for _ in range(3):
            data = raw_request(self.server.address(),
                               b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])


if __name__ == "__main__":
    unittest.main()
