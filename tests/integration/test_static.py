"""Static file semantics of hearth (issue 2, "Static files").

Covers: Content-Type (mime.types or the built-in table, charset=utf-8 on text,
application/octet-stream by default), ETag / Last-Modified, the conditional
headers (If-None-Match, If-Modified-Since -> 304; If-Match,
If-Unmodified-Since -> 412; If-Range), byte ranges (single, suffix,
open-ended, clipped, multipart/byteranges, coalescing, no amplification, too
many parts, unsatisfiable, malformed), HEAD, and the empty file.

Every request is sent over a raw socket with "Connection: close" and read until
the server closes, so a stray byte after a body (or a body after a HEAD or a
304) is caught.
"""
import calendar
import email.utils
import os
import random
import re
import time
import unittest

from harness import ServerTestCase, raw_request

RANGE_SIZE = 10000
RANGE_DATA = random.Random(1234).randbytes(RANGE_SIZE)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class Resp:
    def __init__(self, raw):
        self.raw = raw
        self.status = None
        self.headers = {}
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        self.head = head
        if not sep:
            return
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ")[1])
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            self.headers.setdefault(k.strip().lower().decode("latin-1"), []).append(
                v.strip().decode("latin-1"))

    def get(self, name, default=None):
        v = self.headers.get(name.lower())
        return v[0] if v else default

    def __repr__(self):
        return "<Resp %s %r>" % (self.status, self.raw[:600])


def norm_ct(value):
    return (value or "").replace(" ", "").lower()


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def parse_multipart(body, content_type):
    """Parse a multipart/byteranges body. Returns [(headers, first, last, size, data)]
    and checks the framing strictly (every part exactly as long as its range)."""
    m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type)
    if not m:
        raise AssertionError("no boundary in %r" % content_type)
    boundary = (m.group(1) or m.group(2)).encode()
    delim = b"--" + boundary
    pos = body.index(delim)
    if body[:pos] not in (b"", b"\r\n"):
        raise AssertionError("unexpected preamble %r" % body[:pos])
    parts = []
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            if body[pos + 2:] not in (b"", b"\r\n"):
                raise AssertionError("unexpected epilogue %r" % body[pos + 2:pos + 50])
            return parts
        if body[pos:pos + 2] != b"\r\n":
            raise AssertionError("bad delimiter line at %d: %r" % (pos, body[pos:pos + 40]))
        pos += 2
        hend = body.index(b"\r\n\r\n", pos)
        headers = {}
        for line in body[pos:hend].split(b"\r\n"):
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", ""))
        if not cr:
            raise AssertionError("bad part Content-Range %r" % headers)
        first, last, size = (int(x) for x in cr.groups())
        start = hend + 4
        data = body[start:start + last - first + 1]
        pos = start + len(data)
        if len(data) != last - first + 1 or body[pos:pos + 2 + len(delim)] != b"\r\n" + delim:
            raise AssertionError("part %d-%d not followed by a delimiter: %r" % (
                first, last, body[pos:pos + 60]))
        pos += 2
        parts.append((headers, first, last, size, data))


class StaticTest(ServerTestCase):
    FILES = {
        "index.html": b"<!doctype html><title>hi</title><p>hello</p>\n",
        "style.css": b"body { color: red }\n",
        "app.js": b"console.log('hi');\n",
        "data.json": b'{"a": 1}\n',
        "img.png": PNG,
        "readme.txt": b"hello, text\n",
        "blob.qqqzz": b"\x00\x01unknown",
        "noext": b"no extension",
        "range.bin": RANGE_DATA,
        "empty.txt": b"",
        "sub/page.html": b"<p>sub</p>",
    }

    @classmethod
    def populate(cls, root):
        for name, data in cls.FILES.items():
            root.write(name, data)
        # a fixed mtime in the past, so date comparisons are unambiguous
        cls.mtime = int(time.time()) - 86400
        for name in cls.FILES:
            os.utime(os.path.join(root.path, name), (cls.mtime, cls.mtime))
        # If-Range dates starting with "W" are dates, not weak entity-tags
        root.write("wednesday.bin", RANGE_DATA)
        root.write("future.bin", RANGE_DATA)
        cls.future_mtime = int(time.time()) + 3600  # not yet a second old: a weak Last-Modified
        os.utime(os.path.join(root.path, "future.bin"), (cls.future_mtime, cls.future_mtime))
        cls.wed_mtime = calendar.timegm((2024, 1, 3, 12, 0, 0))  # a Wednesday
        os.utime(os.path.join(root.path, "wednesday.bin"), (cls.wed_mtime, cls.wed_mtime))

    # -- helpers --------------------------------------------------------------

    def req(self, path, method="GET", headers=None, check_length=True):
        h = b"".join(("%s: %s\r\n" % kv).encode("latin-1") for kv in (headers or {}).items())
        data = ("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, path)).encode()
        r = Resp(raw_request(self.server.address(), data + h + b"\r\n", timeout=10))
        self.assertIsNotNone(r.status, r)
        self.assertEqual(r.get("server"), "hearth", r)
        self.assertIsNotNone(r.get("date"), r)
        if method == "HEAD" or r.status == 304:
            self.assertEqual(r.body, b"", "a body after HEAD/304: %r" % (r,))
        elif check_length:
            self.assertIsNotNone(r.get("content-length"), r)
            self.assertEqual(int(r.get("content-length")), len(r.body), r)
        return r

    def req_until(self, path, done, within=2.0):
        """GET path every 50 ms until done(response) holds or `within` seconds
        (the file cache's period and then some) have passed; the last response."""
        deadline = time.monotonic() + within
        while True:
            r = self.req(path)
            if done(r) or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    def validators(self, path):
        r = self.req(path)
        self.assertEqual(r.status, 200, r)
        etag, lm = r.get("etag"), r.get("last-modified")
        self.assertIsNotNone(etag, r)
        self.assertIsNotNone(lm, r)
        return etag, lm

    # -- MIME types -----------------------------------------------------------

    def test_content_types(self):
        expected = {
            "index.html": ("text/html;charset=utf-8",),
            "style.css": ("text/css;charset=utf-8",),
            "app.js": ("text/javascript;charset=utf-8", "application/javascript;charset=utf-8"),
            "data.json": ("application/json;charset=utf-8",),
            "img.png": ("image/png",),
            "readme.txt": ("text/plain;charset=utf-8",),
            "blob.qqqzz": ("application/octet-stream",),
            "noext": ("application/octet-stream",),
            "range.bin": ("application/octet-stream",),
            "sub/page.html": ("text/html;charset=utf-8",),
        }
        for name, cts in expected.items():
            with self.subTest(name=name):
                r = self.req("/" + name)
                self.assertEqual(r.status, 200, r)
                self.assertIn(norm_ct(r.get("content-type")), cts, r)
                self.assertEqual(r.body, self.FILES[name])

    def test_validators_present(self):
        r = self.req("/readme.txt")
        self.assertEqual(r.status, 200)
        etag = r.get("etag")
        self.assertIsNotNone(etag, r)
        self.assertRegex(etag, r'^"[^"]*"$')  # strong, quoted
        lm = r.get("last-modified")
        self.assertIsNotNone(lm, r)
        self.assertEqual(lm, http_date(self.mtime))
        self.assertEqual(r.get("accept-ranges"), "bytes")
        # stable across requests, different for different files
        self.assertEqual(self.req("/readme.txt").get("etag"), etag)

    def test_head_matches_get(self):
        g = self.req("/style.css")
        h = self.req("/style.css", "HEAD")
        self.assertEqual(h.status, 200)
        for k in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
            self.assertEqual(h.get(k), g.get(k), k)

    # -- conditionals ---------------------------------------------------------

    def test_if_none_match(self):
        etag, lm = self.validators("/readme.txt")
        for inm in (etag, "*", '"nope-1", %s, "nope-2"' % etag, '"nope-1",%s' % etag, "W/" + etag):
            with self.subTest(inm=inm):
                r = self.req("/readme.txt", headers={"If-None-Match": inm})
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.body, b"")
                self.assertEqual(r.get("etag"), etag)
                self.assertIsNotNone(r.get("last-modified"), r)
                r = self.req("/readme.txt", "HEAD", headers={"If-None-Match": inm})
                self.assertEqual(r.status, 304, r)
        r = self.req("/readme.txt", headers={"If-None-Match": '"nope"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.FILES["readme.txt"])

    def raw_req(self, path, lines):
        """GET with header lines sent as given (repeated names allowed)."""
        data = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path).encode()
        return Resp(raw_request(self.server.address(),
                                data + b"".join(l.encode() + b"\r\n" for l in lines) + b"\r\n", timeout=10))

    def test_repeated_if_none_match_lines_combine(self):
        # RFC 9110 §5.3: two field lines are one list; a match in any line counts
        etag, lm = self.validators("/readme.txt")
        for lines in ((etag, '"nope"'), ('"nope"', etag), ('"a"', etag, '"b"'), ("*", '"nope"')):
            with self.subTest(lines=lines):
                r = self.raw_req("/readme.txt", ["If-None-Match: " + v for v in lines])
                self.assertEqual(r.status, 304, r)
        r = self.raw_req("/readme.txt", ["If-None-Match: \"a\"", "if-none-match: \"b\""])
        self.assertEqual(r.status, 200, r)

    def test_repeated_if_match_lines_combine(self):
        etag, lm = self.validators("/readme.txt")
        for lines in ((etag, '"nope"'), ('"nope"', etag)):
            with self.subTest(lines=lines):
                r = self.raw_req("/readme.txt", ["If-Match: " + v for v in lines])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.FILES["readme.txt"])
        r = self.raw_req("/readme.txt", ["If-Match: \"a\"", "if-match: \"b\""])
        self.assertEqual(r.status, 412, r)

    def test_if_modified_since(self):
        etag, lm = self.validators("/readme.txt")
        r = self.req("/readme.txt", headers={"If-Modified-Since": lm})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.get("etag"), etag)
        r = self.req("/readme.txt", headers={"If-Modified-Since": http_date(self.mtime + 60)})
        self.assertEqual(r.status, 304, r)
        r = self.req("/readme.txt", headers={"If-Modified-Since": http_date(self.mtime - 3600)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.FILES["readme.txt"])
        r = self.req("/readme.txt", headers={"If-Modified-Since": "not a date"})
        self.assertEqual(r.status, 200, r)
        # If-None-Match takes precedence over If-Modified-Since
        r = self.req("/readme.txt", headers={"If-None-Match": '"nope"', "If-Modified-Since": lm})
        self.assertEqual(r.status, 200, r)

    def test_if_match(self):
        etag, lm = self.validators("/readme.txt")
        r = self.req("/readme.txt", headers={"If-Match": '"some-other-etag"'})
        self.assertEqual(r.status, 412, r)
        self.assertNotIn(self.FILES["readme.txt"], r.body)
        r = self.req("/readme.txt", headers={"If-Match": "W/" + etag})  # strong comparison
        self.assertEqual(r.status, 412, r)
        for im in (etag, "*", '"x", %s' % etag):
            with self.subTest(im=im):
                r = self.req("/readme.txt", headers={"If-Match": im})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.FILES["readme.txt"])

    def test_if_unmodified_since(self):
        etag, lm = self.validators("/readme.txt")
        r = self.req("/readme.txt", headers={"If-Unmodified-Since": http_date(self.mtime - 3600)})
        self.assertEqual(r.status, 412, r)
        r = self.req("/readme.txt", headers={"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})
        self.assertEqual(r.status, 412, r)
        r = self.req("/readme.txt", headers={"If-Unmodified-Since": lm})
        self.assertEqual(r.status, 200, r)
        r = self.req("/readme.txt", headers={"If-Unmodified-Since": http_date(self.mtime + 3600)})
        self.assertEqual(r.status, 200, r)

    def test_if_none_match_beats_range(self):
        etag, lm = self.validators("/range.bin")
        r = self.req("/range.bin", headers={"If-None-Match": etag, "Range": "bytes=0-9"})
        self.assertEqual(r.status, 304, r)

    def test_changed_file_changes_etag(self):
        p = self.root.write("mutable.txt", b"version one")
        os.utime(p, (self.mtime, self.mtime))
        e1, lm1 = self.validators("/mutable.txt")
        self.root.write("mutable.txt", b"version two, longer")
        os.utime(p, (self.mtime + 100, self.mtime + 100))
        # small files are served from memory, trusted for 1 s after each check
        # (--file-cache): the change shows within that, never later
        deadline = time.monotonic() + 2.0
        while True:
            r = self.req("/mutable.txt", headers={"If-None-Match": e1})
            if r.status != 304 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"version two, longer")
        self.assertNotEqual(r.get("etag"), e1)
        r = self.req("/mutable.txt", headers={"If-Range": e1, "Range": "bytes=0-3"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"version two, longer")
        r = self.req("/mutable.txt", headers={"If-Match": e1})
        self.assertEqual(r.status, 412, r)

    def test_created_file_appears_within_the_cache_period(self):
        """A 404 is remembered like a small file (--file-cache, 1 s): a file
        created after a 404 is served within that, never later; a Range
        request, never cached, sees it at once."""
        self.assertEqual(self.req("/appears-later.txt").status, 404)
        self.assertEqual(self.req("/appears-later.txt").status, 404)
        self.root.write("appears-later.txt", b"here now")
        r = self.req("/appears-later.txt", headers={"Range": "bytes=0-3"})
        self.assertEqual((r.status, r.body), (206, b"here"))
        r = self.req_until("/appears-later.txt", lambda r: r.status != 404)
        self.assertEqual((r.status, r.body), (200, b"here now"))
        os.unlink(os.path.join(self.root.path, "appears-later.txt"))
        r = self.req_until("/appears-later.txt", lambda r: r.status != 200)
        self.assertEqual(r.status, 404)

    def test_large_file_replaced_or_removed_within_the_cache_period(self):
        """Files over 16 KiB are kept open (--file-cache): a replaced file is
        served whole and new within the period, a removed one is a 404."""
        one = bytes(range(256)) * 300       # 76,800 bytes
        two = b"second version " * 10000    # 150,000 bytes
        p = self.root.write("big-replaced.bin", one)
        for _ in range(3):
            r = self.req("/big-replaced.bin")
            self.assertEqual((r.status, r.body), (200, one))
        tmp = p + ".new"
        with open(tmp, "wb") as f:
            f.write(two)
        os.rename(tmp, p)
        def whole_and_new(r):
            self.assertEqual(r.status, 200)
            self.assertIn(r.body, (one, two), "a mix of two versions")
            self.assertEqual(int(r.get("content-length")), len(r.body))
            return r.body == two

        r = self.req_until("/big-replaced.bin", whole_and_new)
        self.assertEqual(r.body, two)
        os.unlink(p)
        r = self.req_until("/big-replaced.bin", lambda r: r.status != 200)
        self.assertEqual(r.status, 404)

    def test_many_missing_paths_do_not_break_anything(self):
        """Thousands of different 404s (the cache keeps at most 256 of them):
        every one is a 404, and files are still served."""
        for i in range(600):
            self.assertEqual(self.req("/missing-%d.txt" % i).status, 404)
        r = self.req("/readme.txt")
        self.assertEqual(r.status, 200)

    # -- ranges ---------------------------------------------------------------

    def assertSingleRange(self, spec, first, last, path="/range.bin", data=RANGE_DATA, headers=None):
        h = {"Range": spec}
        h.update(headers or {})
        r = self.req(path, headers=h)
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.get("content-range"), "bytes %d-%d/%d" % (first, last, len(data)), r)
        self.assertEqual(int(r.get("content-length")), last - first + 1)
        self.assertEqual(r.body, data[first:last + 1])
        self.assertFalse(norm_ct(r.get("content-type")).startswith("multipart/"), r)
        return r

    def assertFull(self, r, data=RANGE_DATA):
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.get("content-range"), r)
        self.assertEqual(r.body, data)

    def test_range_single(self):
        self.assertSingleRange("bytes=100-199", 100, 199)
        self.assertSingleRange("bytes=0-0", 0, 0)
        self.assertSingleRange("bytes=9999-9999", 9999, 9999)
        self.assertSingleRange("bytes=0-9999", 0, 9999)

    def test_range_suffix(self):
        self.assertSingleRange("bytes=-500", 9500, 9999)
        self.assertSingleRange("bytes=-1", 9999, 9999)
        self.assertSingleRange("bytes=-20000", 0, 9999)  # longer than the file: all of it

    def test_range_open_ended(self):
        self.assertSingleRange("bytes=9000-", 9000, 9999)
        self.assertSingleRange("bytes=0-", 0, 9999)

    def test_range_clipped_end(self):
        self.assertSingleRange("bytes=9990-20000", 9990, 9999)
        self.assertSingleRange("bytes=5000-999999999999", 5000, 9999)

    def test_range_whitespace_tolerated(self):
        r = self.req("/range.bin", headers={"Range": "bytes=10-19, 30-39"})
        self.assertEqual(r.status, 206, r)

    def check_multipart(self, r, expected_ranges, ctype="application/octet-stream", data=RANGE_DATA,
                        any_order=False):
        self.assertEqual(r.status, 206, r)
        ct = r.get("content-type", "")
        self.assertTrue(norm_ct(ct).startswith("multipart/byteranges;"), ct)
        self.assertIsNone(r.get("content-range"), r)
        parts = parse_multipart(r.body, ct)
        got = [(f, l) for _, f, l, _, _ in parts]
        self.assertEqual(sorted(got) if any_order else got, expected_ranges)
        for headers, first, last, size, body in parts:
            self.assertEqual(size, len(data))
            self.assertEqual(body, data[first:last + 1])
            self.assertEqual(norm_ct(headers.get("content-type")), ctype, headers)
        return parts

    def test_range_multipart(self):
        r = self.req("/range.bin", headers={"Range": "bytes=0-9,100-199,5000-5099"})
        self.check_multipart(r, [(0, 9), (100, 199), (5000, 5099)])
        # parts may come sorted (hearth sorts) or in request order
        r = self.req("/range.bin", headers={"Range": "bytes=-10,0-4"})
        self.check_multipart(r, [(0, 4), (9990, 9999)], any_order=True)

    def test_range_multipart_text_type(self):
        data = self.FILES["readme.txt"]
        r = self.req("/readme.txt", headers={"Range": "bytes=0-1,5-6"})
        self.check_multipart(r, [(0, 1), (5, 6)], ctype="text/plain;charset=utf-8", data=data)

    def test_range_overlapping_coalesced(self):
        self.assertSingleRange("bytes=0-10,5-20", 0, 20)
        self.assertSingleRange("bytes=0-9,10-19", 0, 19)  # adjacent
        self.assertSingleRange("bytes=50-60,0-100", 0, 100)
        self.assertSingleRange("bytes=-100,9800-9950", 9800, 9999)

    def test_range_no_amplification(self):
        specs = [
            ",".join(["0-"] * 50),
            ",".join(["0-9999"] * 50),
            ",".join(["-10000"] * 50),
            ",".join("%d-%d" % (i, i + 5000) for i in range(50)),
            ",".join(["0-"] * 500),
            ",".join("%d-%d" % (i, 9999 - i) for i in range(60)),
        ]
        for spec in specs:
            with self.subTest(spec=spec[:40]):
                r = self.req("/range.bin", headers={"Range": "bytes=" + spec})
                self.assertIn(r.status, (200, 206), r)
                self.assertLessEqual(len(r.body), RANGE_SIZE)
                if r.status == 200 or not norm_ct(r.get("content-type")).startswith("multipart/"):
                    cr = r.get("content-range")
                    m = re.fullmatch(r"bytes (\d+)-(\d+)/10000", cr) if cr else None
                    first = int(m.group(1)) if m else 0
                    self.assertEqual(r.body, RANGE_DATA[first:first + len(r.body)])

    def test_range_sixteen_parts_multipart(self):
        ranges = [(i * 100, i * 100 + 9) for i in range(16)]
        spec = "bytes=" + ",".join("%d-%d" % r for r in ranges)
        r = self.req("/range.bin", headers={"Range": spec})
        self.check_multipart(r, ranges)

    def test_range_too_many_parts_full(self):
        for n in (17, 40, 99):
            with self.subTest(parts=n):
                spec = "bytes=" + ",".join("%d-%d" % (i * 100, i * 100 + 9) for i in range(n))
                r = self.req("/range.bin", headers={"Range": spec})
                self.assertFull(r)

    def test_range_unsatisfiable(self):
        for spec in ("bytes=10000-", "bytes=10000-20000", "bytes=99999-99999", "bytes=20000-,30000-"):
            with self.subTest(spec=spec):
                r = self.req("/range.bin", headers={"Range": spec}, check_length=False)
                self.assertEqual(r.status, 416, r)
                self.assertEqual(r.get("content-range"), "bytes */10000", r)
                self.assertNotIn(RANGE_DATA[:64], r.body)

    def test_range_partly_satisfiable(self):
        # one satisfiable range among unsatisfiable ones: served alone
        self.assertSingleRange("bytes=20000-30000,5-9", 5, 9)

    def test_range_malformed_ignored(self):
        for spec in ("bytes=x", "bytes=", "bytes=1-2-3", "bytes=a-b", "bytes=0-1x", "bytes=--1",
                     "items=0-1", "bytes 0-1", "bytes=0x10-0x20", "bytes=,", "bytes=-"):
            with self.subTest(spec=spec):
                r = self.req("/range.bin", headers={"Range": spec})
                self.assertFull(r)

    def test_range_overflowing_number(self):
        # too big for any integer type: ignored (200) or unsatisfiable (416), never a crash
        r = self.req("/range.bin", headers={"Range": "bytes=99999999999999999999999-"}, check_length=False)
        self.assertIn(r.status, (200, 416), r)
        if r.status == 200:
            self.assertFull(r)
        r = self.req("/range.bin", headers={"Range": "bytes=0-99999999999999999999999"}, check_length=False)
        self.assertIn(r.status, (200, 206), r)
        self.assertEqual(r.body, RANGE_DATA)

    def test_if_range(self):
        etag, lm = self.validators("/range.bin")
        self.assertSingleRange("bytes=10-19", 10, 19, headers={"If-Range": etag})
        self.assertSingleRange("bytes=10-19", 10, 19, headers={"If-Range": lm})
        for stale in ('"0000-0000"', "W/" + etag, http_date(self.mtime - 3600), "garbage"):
            with self.subTest(if_range=stale):
                r = self.req("/range.bin", headers={"If-Range": stale, "Range": "bytes=10-19"})
                self.assertFull(r)

    def test_if_range_wednesday_date(self):
        etag, lm = self.validators("/wednesday.bin")
        self.assertTrue(lm.startswith("Wed, "), lm)
        self.assertSingleRange("bytes=10-19", 10, 19, path="/wednesday.bin", headers={"If-Range": lm})
        # an older Wednesday is stale: the full file
        r = self.req("/wednesday.bin", headers={"If-Range": http_date(self.wed_mtime - 7 * 86400),
                                                "Range": "bytes=10-19"})
        self.assertFull(r)

    def test_if_range_date_needs_a_strong_last_modified(self):
        # RFC 9110 13.1.5 / 8.8.2.2: a Last-Modified less than a second before
        # now is weak, and a date If-Range then gets the full file
        etag, lm = self.validators("/future.bin")
        self.assertEqual(lm, http_date(self.future_mtime))
        r = self.req("/future.bin", headers={"If-Range": lm, "Range": "bytes=10-19"})
        self.assertFull(r)
        # its entity-tag still works
        self.assertSingleRange("bytes=10-19", 10, 19, path="/future.bin", headers={"If-Range": etag})

    def test_head_with_range(self):
        # RFC 9110 §14.2 defines range handling for GET only, so a server may
        # ignore Range on HEAD (200, full length) -- or answer as GET would (206).
        r = self.req("/range.bin", "HEAD", headers={"Range": "bytes=100-199"})
        self.assertIn(r.status, (200, 206), r)
        self.assertEqual(r.body, b"")
        if r.status == 206:
            self.assertEqual(r.get("content-range"), "bytes 100-199/10000")
            self.assertEqual(r.get("content-length"), "100")
        else:
            self.assertIsNone(r.get("content-range"), r)
            self.assertEqual(r.get("content-length"), "10000")
        r = self.req("/range.bin", "HEAD", headers={"Range": "bytes=20000-"})
        self.assertIn(r.status, (200, 416), r)
        self.assertEqual(r.body, b"")
        if r.status == 416:
            self.assertEqual(r.get("content-range"), "bytes */10000")

    # -- empty file -----------------------------------------------------------

    def test_empty_file(self):
        r = self.req("/empty.txt")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.get("content-length"), "0")
        self.assertEqual(r.body, b"")
        self.assertIsNotNone(r.get("etag"))
        r = self.req("/empty.txt", "HEAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.get("content-length"), "0")

    def test_empty_file_range(self):
        r = self.req("/empty.txt", headers={"Range": "bytes=0-"}, check_length=False)
        self.assertIn(r.status, (200, 416), r)
        if r.status == 416:
            self.assertEqual(r.get("content-range"), "bytes */0")
        else:
            self.assertEqual(r.get("content-length"), "0")

    def test_empty_file_conditional(self):
        etag, lm = self.validators("/empty.txt")
        r = self.req("/empty.txt", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)


if __name__ == "__main__":
    unittest.main()
