"""Path safety of hearth's static file handler (issue 2, "Static files").

Covers: traversal attempts in many encodings (sent as raw bytes so nothing
normalizes them on the way), dotfiles, symlinks (inside / outside the root,
files and directories, with and without --follow-symlinks), the directory
redirect (Location can never point at another host or carry CR/LF), index.html,
and --listing (sorted, escaped, percent-encoded hrefs, dotfiles hidden).

Layout: every test tree is a temp directory TOP holding a file "secret" and a
directory "outside/" (with another secret), and the document root TOP/www.
Nothing under TOP but www/ may ever be served.
"""
import html.parser
import os
import re
import unittest
import urllib.parse

from harness import Server, TempRoot, raw_request

SECRET = b"TOP-SECRET-5f3a9c1e-never-serve-me"
PASSWD_MARK = b"root:x:0:0"
PLAIN = b"PLAIN-FILE-CONTENT-for-nul-truncation"
REFUSED = (400, 403, 404)
NOT_FOUND = (403, 404)


class Resp:
    """A parsed raw HTTP response (one, read until close)."""

    def __init__(self, raw):
        self.raw = raw
        self.status = None
        self.headers = {}
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        self.head = head
        if not sep:
            return
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            self.status = int(parts[1])
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            self.headers.setdefault(k.strip().lower().decode("latin-1"), []).append(
                v.strip().decode("latin-1"))
        if "chunked" in self.get("transfer-encoding", "").lower():
            self.body = dechunk(self.body)

    def get(self, name, default=None):
        v = self.headers.get(name.lower())
        return v[0] if v else default

    def __repr__(self):
        return "<Resp %s %r>" % (self.status, self.raw[:400])


def dechunk(data):
    out = b""
    while True:
        line, _, data = data.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            return out
        out += data[:n]
        data = data[n + 2:]


def fetch(server, target, method=b"GET", headers=(), host=b"localhost", timeout=10.0):
    """One request with Connection: close over a raw socket; target is bytes
    and is sent exactly as given."""
    if isinstance(target, str):
        target = target.encode()
    req = (method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
           + b"".join(h + b"\r\n" for h in headers) + b"\r\n")
    return Resp(raw_request(server.address(), req, timeout=timeout))


def build_tree():
    """Returns (TempRoot of TOP, path of the document root TOP/www)."""
    top = TempRoot()
    top.write("secret", SECRET)
    top.write("outside/secret2", SECRET)
    top.write("outside/index.html", SECRET)
    top.write("www/index.html", b"ROOT-INDEX")
    top.write("www/inside.txt", b"INSIDE-CONTENT")
    top.write("www/file", PLAIN)
    top.write("www/file.html", b"FILE-HTML")
    top.write("www/a/a.txt", b"A-TXT")
    top.write("www/.hidden", b"HIDDEN-CONTENT")
    top.write("www/dir/index.html", b"DIR-INDEX")
    top.write("www/dir/.git/config", b"GIT-CONFIG-CONTENT")
    top.write("www/.well-known/x", b"WELL-KNOWN-X")
    top.write("www/noindex/f.txt", b"F-TXT")
    top.mkdir("www/evil.example")
    top.mkdir("www/\\evil.example")
    top.mkdir("www/a\r\nSet-Cookie:x")
    top.mkdir("www/b\nSet-Cookie:y")
    www = os.path.join(top.path, "www")
    # symlinks
    os.symlink("inside.txt", os.path.join(www, "link_in"))
    os.symlink("../inside.txt", os.path.join(www, "a", "link_in_sub"))
    os.symlink("a", os.path.join(www, "dirlink_in"))
    os.symlink("../secret", os.path.join(www, "link_out"))
    os.symlink(os.path.join(top.path, "secret"), os.path.join(www, "link_out_abs"))
    os.symlink("..", os.path.join(www, "link_up"))
    os.symlink("../outside", os.path.join(www, "dirlink_out"))
    os.symlink(os.path.join(top.path, "outside"), os.path.join(www, "dirlink_out_abs"))
    os.symlink("/etc/passwd", os.path.join(www, "link_passwd"))
    # in a directory without an index (listed under --listing)
    os.symlink("../../secret", os.path.join(www, "noindex", "up_secret"))
    os.symlink("../../outside", os.path.join(www, "noindex", "up_outside"))
    os.symlink("/etc/passwd", os.path.join(www, "noindex", "passwd"))
    os.symlink("../inside.txt", os.path.join(www, "noindex", "sib_inside"))
    os.symlink("../a", os.path.join(www, "noindex", "sib_dir"))
    return top, www


TRAVERSALS = [
    b"/../secret",
    b"/..%2fsecret",
    b"/..%2Fsecret",
    b"/%2e%2e/secret",
    b"/%2E%2E/secret",
    b"/%2e%2e%2fsecret",
    b"/%2E%2E/%2E%2E/etc/passwd",
    b"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/..%5c..%5csecret",
    b"/..%5csecret",
    b"/.%2e/secret",
    b"/%2e./secret",
    b"/%252e%252e/secret",
    b"/%252e%252e%252fsecret",
    b"/..%252fsecret",
    b"/a/../../secret",
    b"/a/./../../secret",
    b"/./../secret",
    b"/a/%2e%2e/%2e%2e/secret",
    b"/a/..%2f..%2fsecret",
    b"/..",
    b"/%2e%2e",
    b"/a/../..",
    b"/%2e%2e/www/inside.txt",
    b"//etc/passwd",
    b"//../secret",
    b"///../secret",
    b"/%2fetc/passwd",
    b"/%2F%2E%2E%2Fsecret",
    b"/%3f/../../secret",
    b"/%00",
    b"/file%00.html",
    b"/file%00",
    b"/..%00/secret",
    b"/%00/../../secret",
    b"/..\\secret",
    b"/..\\..\\secret",
    b"\\..\\secret",
    b"/a\\..\\..\\secret",
    b"/%c0%ae%c0%ae/secret",
    b"/%c0%ae%c0%ae%c0%afsecret",
    b"/..%c0%afsecret",
    b"/..%c1%9csecret",
    b"/%e0%80%ae%e0%80%ae/secret",
    b"/%f0%80%80%ae%f0%80%80%ae/secret",
    b"/..;/secret",
    b"/.../secret",
    b"/....//secret",
    b"/%%32%65%%32%65/secret",
    b"/%u002e%u002e/secret",
    b"/%2",
    b"/%zz/../../secret",
    b"../secret",
    b"secret",
    b"/link_out",
    b"/link_out_abs",
    b"/link_up/secret",
    b"/link_up/outside/secret2",
    b"/dirlink_out/secret2",
    b"/dirlink_out/",
    b"/dirlink_out_abs/secret2",
    b"/link_passwd",
    # absolute-form targets
    b"http://localhost/../secret",
    b"http://localhost/%2e%2e/secret",
    b"http://localhost/..%2fsecret",
    b"http://localhost/a/../../secret",
    b"http://localhost//etc/passwd",
    b"http://localhost/..\\secret",
    b"http://localhost/link_out",
    b"http://localhost/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


class TraversalMixin:
    """Every traversal target answers 400/403/404 and never shows the secret."""

    def test_traversal_attempts_refused(self):
        for target in TRAVERSALS:
            for method in (b"GET", b"HEAD"):
                with self.subTest(target=target, method=method):
                    r = fetch(self.server, target, method=method)
                    self.assertNotIn(SECRET, r.raw)
                    self.assertNotIn(PASSWD_MARK, r.raw)
                    self.assertNotIn(PLAIN, r.raw)
                    self.assertIn(r.status, REFUSED, r)
        self.assertTrue(self.server.alive())

    def test_traversal_with_odd_hosts(self):
        # The Host header never selects a different root.
        for host in (b"..", b"localhost:80", b"x"):
            with self.subTest(host=host):
                r = fetch(self.server, b"/../secret", host=host)
                self.assertNotIn(SECRET, r.raw)
                self.assertIn(r.status, REFUSED, r)

    def test_inside_paths_still_work(self):
        # Dot segments that stay inside the root are resolved, not refused.
        for target, body in ((b"/inside.txt", b"INSIDE-CONTENT"), (b"/a/../inside.txt", b"INSIDE-CONTENT"),
                             (b"/a/./a.txt", b"A-TXT"), (b"/%69nside.txt", b"INSIDE-CONTENT"),
                             (b"/a/%2e%2e/inside.txt", b"INSIDE-CONTENT"), (b"/a%2fa.txt", None),
                             (b"http://localhost/inside.txt", b"INSIDE-CONTENT")):
            with self.subTest(target=target):
                r = fetch(self.server, target)
                if body is None:  # encoded '/' is refused even when it would stay inside
                    self.assertIn(r.status, REFUSED, r)
                    continue
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, body)


class TreeServerCase(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.top, cls.www = build_tree()
        try:
            cls.server = Server(cls.www, *cls.server_args)
        except Exception:
            cls.top.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.top.cleanup()

    def setUp(self):
        self.assertTrue(self.server.alive(), "hearth died:\n" + self.server.stderr_text())

    def assertRefused(self, target, codes=NOT_FOUND, marker=None):
        r = fetch(self.server, target)
        self.assertIn(r.status, codes, r)
        self.assertNotIn(SECRET, r.raw)
        if marker is not None:
            self.assertNotIn(marker, r.raw)
        return r

    def assertServed(self, target, body):
        r = fetch(self.server, target)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        return r


class DefaultPathsTest(TraversalMixin, TreeServerCase):
    """No flags: dotfiles hidden, symlinks refused, no listings."""

    # --- dotfiles ---
    def test_dotfile_refused(self):
        self.assertRefused(b"/.hidden", marker=b"HIDDEN-CONTENT")
        self.assertRefused(b"/%2ehidden", marker=b"HIDDEN-CONTENT")
        self.assertRefused(b"/a/../.hidden", marker=b"HIDDEN-CONTENT")
        self.assertRefused(b"/.well-known/../.hidden", marker=b"HIDDEN-CONTENT")

    def test_dotdir_refused(self):
        self.assertRefused(b"/dir/.git/config", marker=b"GIT-CONFIG-CONTENT")
        self.assertRefused(b"/dir/%2Egit/config", marker=b"GIT-CONFIG-CONTENT")
        self.assertRefused(b"/dir/.git/", marker=b"GIT-CONFIG-CONTENT")
        self.assertRefused(b"/dir/.git", marker=b"GIT-CONFIG-CONTENT")

    def test_well_known_served(self):
        self.assertServed(b"/.well-known/x", b"WELL-KNOWN-X")
        self.assertServed(b"/%2ewell-known/x", b"WELL-KNOWN-X")

    # --- symlinks ---
    def test_symlink_inside_refused_by_default(self):
        self.assertRefused(b"/link_in", marker=b"INSIDE-CONTENT")
        self.assertRefused(b"/a/link_in_sub", marker=b"INSIDE-CONTENT")

    def test_symlinked_dir_refused_by_default(self):
        self.assertRefused(b"/dirlink_in/a.txt", marker=b"A-TXT")
        r = fetch(self.server, b"/dirlink_in/")
        self.assertIn(r.status, NOT_FOUND, r)
        r = fetch(self.server, b"/dirlink_in")
        self.assertIn(r.status, NOT_FOUND, r)  # no redirect into a symlinked directory

    def test_symlink_outside_refused(self):
        for t in (b"/link_out", b"/link_out_abs", b"/link_up/secret", b"/dirlink_out/secret2",
                  b"/dirlink_out_abs/secret2", b"/link_passwd"):
            with self.subTest(target=t):
                self.assertRefused(t, codes=REFUSED, marker=PASSWD_MARK)

    # --- directories ---
    def test_index_html_served_for_directory(self):
        r = self.assertServed(b"/dir/", b"DIR-INDEX")
        self.assertTrue(r.get("content-type", "").startswith("text/html"), r)
        self.assertServed(b"/", b"ROOT-INDEX")
        self.assertServed(b"/dir/index.html", b"DIR-INDEX")

    def test_directory_redirect(self):
        for target, loc in ((b"/dir", "/dir/"), (b"/noindex", "/noindex/"), (b"/a", "/a/"),
                            (b"/dir?q=1&b=2", "/dir/?q=1&b=2"), (b"/a/../dir", "/dir/"),
                            (b"/d%69r", "/dir/")):
            with self.subTest(target=target):
                r = fetch(self.server, target)
                self.assertEqual(r.status, 301, r)
                # built from the normalized path (or, acceptably, the raw one)
                path, _, query = target.decode().partition("?")
                raw_loc = path + "/" + ("?" + query if query else "")
                self.assertIn(r.get("location"), (loc, raw_loc), r)

    def test_directory_redirect_long_query(self):
        # the Location is built in the response head, not in a small buffer
        for n in (400, 600, 2000, 7000):
            with self.subTest(query_len=n):
                q = b"q=" + b"x" * (n - 2)
                r = fetch(self.server, b"/dir?" + q)
                self.assertEqual(r.status, 301, r)
                self.assertEqual(r.get("location"), "/dir/?" + q.decode())

    def test_directory_redirect_head(self):
        r = fetch(self.server, b"/dir", method=b"HEAD")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.get("location"), "/dir/")
        self.assertEqual(r.body, b"")

    def check_location_safe(self, r):
        self.assertNotIn("set-cookie", r.headers, r)
        for line in re.split(rb"\r\n|\r|\n", r.head):
            self.assertFalse(line.lower().startswith(b"set-cookie"), r)
        # every line of the head ends with CRLF: no bare LF or CR smuggled in
        self.assertEqual(r.head.count(b"\n"), r.head.count(b"\r\n"), r)
        self.assertEqual(r.head.count(b"\r"), r.head.count(b"\r\n"), r)
        for loc in r.headers.get("location", []):
            self.assertTrue(loc.startswith("/"), loc)
            self.assertFalse(loc.startswith("//"), loc)
            self.assertFalse(loc.startswith("/\\"), loc)
            self.assertFalse(any(ord(c) < 0x21 or ord(c) > 0x7e for c in loc), repr(loc))

    def test_redirect_never_to_other_host(self):
        targets = [b"//evil.example", b"//evil.example/%2e%2e", b"//evil.example/%2e%2e/",
                   b"///evil.example", b"////evil.example", b"//evil.example?x=1",
                   b"/.//evil.example", b"/a/..//evil.example", b"/%2fevil.example",
                   b"/%2F%2Fevil.example", b"/%5cevil.example", b"/\\evil.example",
                   b"/%5c%5cevil.example", b"//%5cevil.example",
                   b"http://localhost//evil.example", b"/evil.example"]
        for t in targets:
            with self.subTest(target=t):
                r = fetch(self.server, t)
                self.assertIsNotNone(r.status, r)
                self.check_location_safe(r)
        r = fetch(self.server, b"//evil.example")
        if r.status == 301:
            self.assertEqual(r.get("location"), "/evil.example/")
        r = fetch(self.server, b"/%5cevil.example")
        if r.status == 301:
            self.assertEqual(r.get("location").lower(), "/%5cevil.example/")

    def test_redirect_no_header_injection(self):
        for t in (b"/a%0d%0aSet-Cookie:x", b"/a%0D%0ASet-Cookie:x?q", b"/b%0aSet-Cookie:y",
                  b"/a%0d%0aSet-Cookie:x/", b"/nonexistent%0d%0aSet-Cookie:z",
                  b"/dir?%0d%0aSet-Cookie:q"):
            with self.subTest(target=t):
                r = fetch(self.server, t)
                self.assertIn(r.status, (301, 400, 403, 404), r)
                self.check_location_safe(r)
                if r.status == 301 and t.startswith(b"/a%0"):
                    self.assertTrue(r.get("location").lower().startswith("/a%0d%0a"), r)

    def test_no_listing_by_default(self):
        r = fetch(self.server, b"/noindex/")
        self.assertEqual(r.status, 403, r)
        self.assertNotIn(b"f.txt", r.body)
        self.assertServed(b"/noindex/f.txt", b"F-TXT")


class DotfilesTest(TreeServerCase):
    server_args = ("--dotfiles",)

    def test_dotfiles_served(self):
        self.assertServed(b"/.hidden", b"HIDDEN-CONTENT")
        self.assertServed(b"/dir/.git/config", b"GIT-CONFIG-CONTENT")
        self.assertServed(b"/.well-known/x", b"WELL-KNOWN-X")

    def test_dotfiles_do_not_enable_symlinks(self):
        self.assertRefused(b"/link_in", marker=b"INSIDE-CONTENT")


class FollowSymlinksTest(TreeServerCase):
    server_args = ("--follow-symlinks",)

    def test_symlink_inside_served(self):
        self.assertServed(b"/link_in", b"INSIDE-CONTENT")
        self.assertServed(b"/a/link_in_sub", b"INSIDE-CONTENT")

    def test_symlinked_dir_inside_served(self):
        self.assertServed(b"/dirlink_in/a.txt", b"A-TXT")

    def test_symlink_outside_still_refused(self):
        for t in (b"/link_out", b"/link_out_abs", b"/link_up/secret", b"/link_up/outside/secret2",
                  b"/dirlink_out/secret2", b"/dirlink_out/",
                  b"/dirlink_out_abs/secret2", b"/link_passwd"):
            with self.subTest(target=t):
                r = fetch(self.server, t)
                self.assertIn(r.status, REFUSED, r)
                self.assertNotIn(SECRET, r.raw)
                self.assertNotIn(PASSWD_MARK, r.raw)
                for loc in r.headers.get("location", []):
                    self.assertFalse(loc.startswith("//"), loc)

    def test_dotfiles_still_refused(self):
        self.assertRefused(b"/.hidden", marker=b"HIDDEN-CONTENT")


class PermissiveTraversalTest(TraversalMixin, TreeServerCase):
    """Every opt-in flag on: traversal must still be impossible."""
    server_args = ("--follow-symlinks", "--dotfiles", "--listing")

    def test_listing_shows_nothing_of_targets_outside(self):
        # a link is listed only when it could be served: followed beneath the
        # root, so nothing (size, date, type) of an outside target shows
        r = fetch(self.server, b"/noindex/")
        self.assertEqual(r.status, 200, r)
        p = _Anchors()
        p.feed(r.body.decode())
        names = sorted(text for href, text in p.anchors if href != "../")
        self.assertNotIn(b"%d B" % len(SECRET), r.body)
        # listed exactly when served: where openat2 is missing (valgrind)
        # hearth follows no symlink at all, and then lists none either
        if fetch(self.server, b"/noindex/sib_inside").status == 200:
            self.assertEqual(names, ["f.txt", "sib_dir/", "sib_inside"], r)
            self.assertIn(b"%d B" % len(b"INSIDE-CONTENT"), r.body)
        else:
            self.assertEqual(names, ["f.txt"], r)

    def test_listing_of_symlinked_outside_dir_refused(self):
        r = fetch(self.server, b"/dirlink_out/")
        self.assertIn(r.status, REFUSED, r)
        self.assertNotIn(b"secret2", r.raw)


# ---------------------------------------------------------------------------
# Listings

class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = []  # (href, text)
        self._cur = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._cur = [dict(attrs).get("href"), ""]

    def handle_data(self, data):
        if self._cur is not None:
            self._cur[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._cur is not None:
            self.anchors.append(tuple(self._cur))
            self._cur = None


LIST_FILES = {
    "a.txt": b"a" * 1234,
    "c file.txt": b"c file",
    "e<script>&x.txt": b"script file",
    'q"uote.txt': b"quote file",
}
LIST_DIRS = ["bdir", "zdir"]
EXPECTED_ORDER = ["bdir/", "zdir/", "a.txt", "c file.txt", "e<script>&x.txt", 'q"uote.txt']


class ListingBase(unittest.TestCase):
    server_args = ("--listing",)

    @classmethod
    def setUpClass(cls):
        cls.top = TempRoot()
        cls.top.write("secret", SECRET)
        for name, data in LIST_FILES.items():
            cls.top.write("www/list/" + name, data)
        for d in LIST_DIRS:
            cls.top.write("www/list/%s/inner.txt" % d, d.encode())
        cls.top.write("www/list/.dotfile", b"dot")
        cls.top.write("www/list/.dotdir/x", b"dotdir")
        cls.top.write("www/top.txt", b"top")  # the root itself has no index.html
        cls.www = os.path.join(cls.top.path, "www")
        try:
            cls.server = Server(cls.www, *cls.server_args)
        except Exception:
            cls.top.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.top.cleanup()

    def listing(self, path):
        r = fetch(self.server, path)
        self.assertEqual(r.status, 200, r)
        ct = r.get("content-type", "").replace(" ", "").lower()
        self.assertEqual(ct, "text/html;charset=utf-8")
        self.assertEqual(int(r.get("content-length", len(r.body))), len(r.body))
        p = _Anchors()
        p.feed(r.body.decode("utf-8"))
        p.close()
        entries = []
        for href, text in p.anchors:
            if href is None:
                continue
            resolved = urllib.parse.urljoin(path.decode(), href)
            entries.append((href, text.strip(), resolved))
        return r, entries

    def names(self, path, entries):
        """Entry names (decoded, dirs with trailing '/') of links that point
        directly into path, in document order."""
        out = []
        base = path.decode()
        for href, text, resolved in entries:
            if not resolved.startswith(base) or resolved == base:
                continue
            rest = urllib.parse.unquote(resolved[len(base):].split("?", 1)[0])
            if rest and "/" not in rest.rstrip("/"):
                out.append(rest)
        return out


class ListingTest(ListingBase):
    def test_listing_sorted_dirs_first(self):
        r, entries = self.listing(b"/list/")
        self.assertEqual(self.names(b"/list/", entries), EXPECTED_ORDER)

    def test_listing_escapes_names(self):
        r, entries = self.listing(b"/list/")
        self.assertNotIn(b"<script>", r.body)
        self.assertNotIn(b"<script", r.body.lower())
        self.assertNotIn(b"&x.txt", r.body)  # '&' escaped (&amp; / &#38;) or percent-encoded
        texts = [t for _, t, _ in entries]
        self.assertTrue(any("e<script>&x.txt" in t for t in texts), texts)
        self.assertTrue(any('q"uote.txt' in t for t in texts), texts)

    def test_listing_percent_encodes_hrefs(self):
        r, entries = self.listing(b"/list/")
        hrefs = [h for h, _, _ in entries]
        self.assertTrue(any(h.endswith("c%20file.txt") for h in hrefs), hrefs)
        for h in hrefs:
            self.assertNotIn(" ", h)
            self.assertNotIn("<", h)
            self.assertNotIn('"', h)

    def test_listing_links_work(self):
        r, entries = self.listing(b"/list/")
        for href, text, resolved in entries:
            if not resolved.startswith("/list/") or resolved == "/list/":
                continue
            with self.subTest(href=href):
                rr = fetch(self.server, resolved.encode())
                self.assertEqual(rr.status, 200, rr)
                name = urllib.parse.unquote(resolved[len("/list/"):])
                if name in LIST_FILES:
                    self.assertEqual(rr.body, LIST_FILES[name])

    def test_listing_hides_dotfiles(self):
        r, entries = self.listing(b"/list/")
        self.assertNotIn(b".dotfile", r.body)
        self.assertNotIn(b".dotdir", r.body)
        r = fetch(self.server, b"/list/.dotdir/")
        self.assertIn(r.status, NOT_FOUND, r)

    def test_parent_link(self):
        r, entries = self.listing(b"/list/bdir/")
        self.assertTrue(any(res == "/list/" for _, _, res in entries), entries)
        self.assertEqual(self.names(b"/list/bdir/", entries), ["inner.txt"])

    def test_root_listing_has_no_parent_link(self):
        r, entries = self.listing(b"/")
        self.assertNotIn("../", [h for h, _, _ in entries])
        self.assertEqual(self.names(b"/", entries), ["list/", "top.txt"])
        self.assertNotIn(SECRET, r.raw)
        self.assertNotIn(b"secret", r.body)

    def test_listing_redirect_without_slash(self):
        r = fetch(self.server, b"/list")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.get("location"), "/list/")


class ListingDotfilesTest(ListingBase):
    server_args = ("--listing", "--dotfiles")

    def test_listing_shows_dotfiles(self):
        r, entries = self.listing(b"/list/")
        names = self.names(b"/list/", entries)
        self.assertIn(".dotfile", names)
        self.assertIn(".dotdir/", names)
        self.assertLess(names.index(".dotdir/"), names.index("a.txt"))  # dirs first


if __name__ == "__main__":
    unittest.main()
