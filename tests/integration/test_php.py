"""FastCGI gateway (issue 5) against a real php-fpm: the test writes a pool
configuration in a temporary directory, starts php-fpm on a Unix socket, and
runs hearth with --fastcgi '*.php=unix:SOCK' --index index.php,index.html over
a root of PHP scripts. GET with a query, POST forms, uploads (multipart and
raw, 20 MB, checked by hash in PHP), a 50 MB generated response checked by
hash, headers and http_response_code(), Location (PHP's 302, a CGI local
redirect, an absolute one), PATH_INFO cases and the CVE-2019-11043 pattern,
HEAD, chunked request bodies, PHP's STDERR in hearth's error log, and clients
leaving mid-response.

Skipped as a whole only when no php-fpm binary exists (CI installs the Debian
package php-fpm).
"""
import glob
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Server, TempRoot, read_response, wait_until
from fcgi_app import gen_sha256


def find_php_fpm():
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin:/sbin"
    for name in ("php-fpm8.2", "php-fpm8.3", "php-fpm8.4", "php-fpm"):
        p = shutil.which(name, path=path)
        if p:
            return p
    found = sorted(glob.glob("/usr/sbin/php-fpm*"))
    return found[0] if found else None


PHP_FPM = find_php_fpm()
N50 = 50 * 1024 * 1024

# Deterministic output, the same bytes as fcgi_app.gen_chunks (so gen_sha256
# gives the expected hash): block i is a 64 KiB base rotated by i*4099 bytes.
GEN_PHP = r"""<?php
$n = isset($_GET['bytes']) ? (int)$_GET['bytes'] : 1048576;
header('Content-Type: application/octet-stream');
if (isset($_GET['cl'])) header('Content-Length: ' . $n);
$base = '';
for ($i = 0; $i < 2048; $i++) $base .= hash('sha256', "hearth-fcgi-$i", true);
$size = strlen($base);
for ($i = 0, $left = $n; $left > 0; $i++) {
    $off = ($i * 4099) % $size;
    $blk = substr($base, $off) . substr($base, 0, $off);
    if ($left < $size) $blk = substr($blk, 0, $left);
    echo $blk;
    $left -= strlen($blk);
}
"""

INFO_PHP = r"""<?php
$in = file_get_contents('php://input');
header('Content-Type: application/json');
$keys = ['SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO', 'PATH_TRANSLATED', 'PHP_SELF', 'REQUEST_URI',
         'QUERY_STRING', 'REQUEST_METHOD', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'DOCUMENT_ROOT',
         'SERVER_SOFTWARE', 'SERVER_PROTOCOL', 'GATEWAY_INTERFACE', 'REMOTE_ADDR', 'SERVER_PORT',
         'HTTP_HOST', 'HTTP_PROXY', 'HTTP_X_TEST', 'REDIRECT_STATUS'];
$s = [];
foreach ($keys as $k) $s[$k] = array_key_exists($k, $_SERVER) ? $_SERVER[$k] : null;
echo json_encode(['server' => $s, 'get' => $_GET, 'post' => $_POST, 'input_len' => strlen($in),
                  'input_sha256' => hash('sha256', $in), 'getenv_proxy' => getenv('HTTP_PROXY')]);
"""

UPLOAD_PHP = r"""<?php
header('Content-Type: application/json');
$files = [];
foreach ($_FILES as $k => $f) {
    $ok = $f['error'] === UPLOAD_ERR_OK;
    $files[$k] = ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'],
                  'sha256' => $ok ? hash_file('sha256', $f['tmp_name']) : null,
                  'md5' => $ok ? md5_file($f['tmp_name']) : null];
}
echo json_encode(['files' => $files, 'post' => $_POST]);
"""

HEADERS_PHP = r"""<?php
http_response_code(isset($_GET['code']) ? (int)$_GET['code'] : 200);
header('X-Php: yes');
header('Content-Type: text/plain; charset=utf-8');
setcookie('a', '1');
setcookie('b', '2');
echo "headers body\n";
"""

REDIRECT_PHP = r"""<?php
if (isset($_GET['local'])) header('Location: ' . $_GET['to'], true, 200);  // no Status: a CGI local redirect
else header('Location: ' . $_GET['to']);                                   // PHP adds Status: 302
echo "redirecting\n";
"""

OTHER_PHP = r"""<?php
echo "other.php: ", $_SERVER['REQUEST_METHOD'], " [", $_SERVER['QUERY_STRING'] ?? '', "]\n";
"""

STDERR_PHP = r"""<?php
error_log("PHP-STDERR-MARKER " . ($_GET['n'] ?? ''));
echo "logged\n";
"""

INDEX_PHP = "<?php echo 'index.php at ', $_SERVER['SCRIPT_NAME'], \"\\n\";\n"
STATIC = b"static beside php\n"


def php_request(addr, method, path, body=None, headers=None, timeout=30.0):
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hl = r.getheaders()
        return r.status, {k.lower(): v for k, v in hl}, hl, data
    finally:
        c.close()


def raw_status(addr, target, timeout=10.0):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
        data = b""
        while b"\r\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def multipart(fields, files, boundary="----hearthTestBoundary7MA4YWxkTrZu0gW"):
    """(body, content type) for fields {name: value} and files {name: (filename, bytes)}."""
    out = []
    for k, v in fields.items():
        out.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            boundary.encode(), k.encode(), v.encode()))
    for k, (fn, data) in files.items():
        out.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   b"Content-Type: application/octet-stream\r\n\r\n" % (boundary.encode(), k.encode(), fn.encode()))
        out.append(data)
        out.append(b"\r\n")
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


class PhpFpm:
    """php-fpm in the foreground with a pool of 2 on DIR/php.sock."""

    def __init__(self, directory):
        self.dir = directory
        self.sock = os.path.join(directory, "php.sock")
        self.log = os.path.join(directory, "php-fpm.log")
        self.access_log = os.path.join(directory, "php-access.log")
        conf = os.path.join(directory, "php-fpm.conf")
        root = os.geteuid() == 0
        user = ""
        if root:
            group = "nogroup"
            try:
                grp.getgrnam(group)
            except KeyError:
                group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            user = "user = nobody\ngroup = %s\n" % group
        with open(conf, "w") as f:
            f.write("""[global]
pid = {d}/php-fpm.pid
error_log = {log}
daemonize = no
log_level = notice

[hearthtest]
{user}listen = {sock}
listen.mode = 0666
pm = static
pm.max_children = 2
catch_workers_output = yes
access.log = {access}
access.format = "%m %{{REQUEST_URI}}e %s"
request_terminate_timeout = 120
security.limit_extensions = .php
php_admin_value[upload_max_filesize] = 64M
php_admin_value[post_max_size] = 64M
php_admin_value[memory_limit] = 256M
php_admin_value[max_execution_time] = 120
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
""".format(d=directory, log=self.log, user=user, sock=self.sock, access=self.access_log))
        argv = [PHP_FPM, "-F", "-y", conf, "-p", directory]
        if root:
            argv.append("-R")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1)
            try:
                s.connect(self.sock)
                return "up"
            except OSError:
                return None
            finally:
                s.close()
        state = wait_until(ready, 15, 0.05)
        if state != "up":
            self.stop()
            raise RuntimeError("php-fpm did not start (%s):\n%s" % (state, self.log_text()))

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_text(self):
        try:
            with open(self.access_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # php-fpm: SIGTERM ends the master and its children
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@unittest.skipUnless(PHP_FPM, "no php-fpm binary (php-fpm8.2, php-fpm8.3, php-fpm...): "
                              "install Debian's php-fpm package to run the PHP gateway tests")
class PhpTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hearth-php-")
        os.chmod(cls.dir, 0o755)
        cls.rootobj = TempRoot()
        cls.root = os.path.realpath(cls.rootobj.path)
        os.chmod(cls.root, 0o755)
        w = cls.rootobj.write
        w("index.php", INDEX_PHP, mode=0o644)
        w("info.php", INFO_PHP, mode=0o644)
        w("gen.php", GEN_PHP, mode=0o644)
        w("upload.php", UPLOAD_PHP, mode=0o644)
        w("headers.php", HEADERS_PHP, mode=0o644)
        w("redirect.php", REDIRECT_PHP, mode=0o644)
        w("other.php", OTHER_PHP, mode=0o644)
        w("stderr.php", STDERR_PHP, mode=0o644)
        w("static.txt", STATIC, mode=0o644)
        w("sub/deep.php", INFO_PHP, mode=0o644)
        w("htmlonly/index.html", "<p>html index</p>\n", mode=0o644)
        for d in ("sub", "htmlonly"):
            os.chmod(os.path.join(cls.root, d), 0o755)
        cls.fpm = None
        cls.h = None
        try:
            cls.fpm = PhpFpm(cls.dir)
            cls.h = Server(cls.root, "--fastcgi", "*.php=unix:" + cls.fpm.sock, "--index", "index.php,index.html",
                           "--max-body-size", "100m")
        except Exception:
            cls.tearDownClass()
            raise
        cls.addr = cls.h.address()

    @classmethod
    def tearDownClass(cls):
        if cls.h:
            cls.h.stop()
        if cls.fpm:
            cls.fpm.stop()
        cls.rootobj.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if cls.h and re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", cls.h.stderr_text()):
            raise AssertionError("sanitizer report from hearth:\n" + cls.h.stderr_text()[-5000:])

    def setUp(self):
        self.assertTrue(self.h.alive(), "hearth died:\n" + self.h.stderr_text())
        self.assertTrue(self.fpm.alive(), "php-fpm died:\n" + self.fpm.log_text())

    def info(self, path, method="GET", body=None, headers=None):
        st, h, _, data = php_request(self.addr, method, path, body=body, headers=headers)
        self.assertEqual(st, 200, "%s %s: %r\nhearth:\n%s\nphp-fpm:\n%s" % (
            method, path, data[:500], self.h.stderr_text()[-2000:], self.fpm.log_text()[-2000:]))
        return json.loads(data)

    def access_marker(self, tag):
        """Request /other.php?TAG and wait until php-fpm's access log has it:
        everything requested before is logged by then."""
        st, _, _, _ = php_request(self.addr, "GET", "/other.php?" + tag)
        self.assertEqual(st, 200)
        self.assertTrue(wait_until(lambda: tag in self.fpm.access_text(), 5), self.fpm.access_text()[-1000:])

    # ---- requests

    def test_get_with_query(self):
        doc = self.info("/info.php?a=1&b=two%20words&arr[]=x&arr[]=y", headers={"X-Test": "t1"})
        self.assertEqual(doc["get"], {"a": "1", "b": "two words", "arr": ["x", "y"]})
        s = doc["server"]
        self.assertEqual(s["QUERY_STRING"], "a=1&b=two%20words&arr[]=x&arr[]=y")
        self.assertEqual(s["REQUEST_URI"], "/info.php?a=1&b=two%20words&arr[]=x&arr[]=y")
        self.assertEqual(s["SCRIPT_NAME"], "/info.php")
        self.assertEqual(s["SCRIPT_FILENAME"], self.root + "/info.php")
        self.assertEqual(s["DOCUMENT_ROOT"], self.root)
        self.assertEqual(s["REQUEST_METHOD"], "GET")
        self.assertEqual(s["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(s["SERVER_PORT"], str(self.addr[1]))
        self.assertEqual(s["REMOTE_ADDR"], "127.0.0.1")
        self.assertTrue(s["SERVER_SOFTWARE"].startswith("hearth/"), s)
        self.assertEqual(s["HTTP_X_TEST"], "t1")

    def test_httpoxy(self):
        doc = self.info("/info.php", headers={"Proxy": "http://evil.test:8080/"})
        self.assertIsNone(doc["server"]["HTTP_PROXY"])
        self.assertFalse(doc["getenv_proxy"])

    def test_post_form(self):
        body = "a=1&b=two+words&arr%5B%5D=x&arr%5B%5D=y&u=%C3%A9"
        doc = self.info("/info.php?q=s", "POST", body=body.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(doc["post"], {"a": "1", "b": "two words", "arr": ["x", "y"], "u": "\u00e9"})
        self.assertEqual(doc["get"], {"q": "s"})
        self.assertEqual(doc["server"]["CONTENT_LENGTH"], str(len(body)))
        self.assertEqual(doc["server"]["CONTENT_TYPE"], "application/x-www-form-urlencoded")

    def test_multipart_upload_20mb(self):
        data = os.urandom(20 * 1024 * 1024)
        small = b"tiny file\n"
        body, ctype = multipart({"title": "hello"}, {"big": ("big.bin", data), "small": ("s.txt", small)})
        st, _, _, out = php_request(self.addr, "POST", "/upload.php", body=body, headers={"Content-Type": ctype},
                                    timeout=60)
        self.assertEqual(st, 200, out[:500])
        doc = json.loads(out)
        self.assertEqual(doc["post"], {"title": "hello"})
        big = doc["files"]["big"]
        self.assertEqual((big["error"], big["size"], big["name"]), (0, len(data), "big.bin"))
        self.assertEqual(big["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(big["md5"], hashlib.md5(data).hexdigest())
        self.assertEqual(doc["files"]["small"]["sha256"], hashlib.sha256(small).hexdigest())

    def test_raw_body_upload(self):
        data = os.urandom(20 * 1024 * 1024 + 5)
        doc = self.info("/info.php", "PUT", body=data, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(doc["input_len"], len(data))
        self.assertEqual(doc["input_sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(doc["server"]["CONTENT_LENGTH"], str(len(data)))

    def chunked_post(self, path, data, headers=b""):
        s = socket.create_connection(self.addr, timeout=30)
        try:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n%s\r\n"
                      % (path.encode(), headers))
            i = 0
            sizes = [1, 10, 4096, 70000, 250000]
            k = 0
            while i < len(data):
                n = min(sizes[k % len(sizes)], len(data) - i)
                s.sendall(b"%x\r\n" % n + data[i:i + n] + b"\r\n")
                i += n
                k += 1
            s.sendall(b"0\r\n\r\n")
            st, h, body, _ = read_response(s)
        finally:
            s.close()
        if h.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            j = 0
            while True:
                e = body.index(b"\r\n", j)
                size = int(body[j:e].split(b";")[0], 16)
                if size == 0:
                    break
                out += body[e + 2:e + 2 + size]
                j = e + 2 + size + 2
            body = bytes(out)
        return st, body

    def test_chunked_body(self):
        for n in (1000, 3 * 1024 * 1024 + 11):  # in memory, then spooled to a file
            with self.subTest(n=n):
                data = os.urandom(n)
                st, body = self.chunked_post("/info.php", data)
                self.assertEqual(st, 200, body[:300])
                doc = json.loads(body)
                self.assertEqual(doc["server"]["CONTENT_LENGTH"], str(n))
                self.assertEqual(doc["input_len"], n, "php-fpm needs CONTENT_LENGTH to read a body")
                self.assertEqual(doc["input_sha256"], hashlib.sha256(data).hexdigest())

    def test_chunked_form(self):
        st, body = self.chunked_post("/info.php", b"x=1&y=chunked",
                                     b"Content-Type: application/x-www-form-urlencoded\r\n")
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(json.loads(body)["post"], {"x": "1", "y": "chunked"})

    # ---- responses

    def test_generated_50mb(self):
        c = http.client.HTTPConnection(*self.addr, timeout=60)
        try:
            c.request("GET", "/gen.php?bytes=%d" % N50)
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            hsh = hashlib.sha256()
            total = 0
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                hsh.update(b)
                total += len(b)
            self.assertEqual(total, N50)
            self.assertEqual(hsh.hexdigest(), gen_sha256(N50))
            c.request("GET", "/index.php")  # the connection carries on
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"index.php at /index.php\n"))
        finally:
            c.close()

    def test_generated_with_content_length(self):
        n = 5 * 1024 * 1024 + 1
        st, h, _, data = php_request(self.addr, "GET", "/gen.php?cl=1&bytes=%d" % n)
        self.assertEqual(st, 200)
        self.assertEqual(h.get("content-length"), str(n))
        self.assertEqual(hashlib.sha256(data).hexdigest(), gen_sha256(n))

    def test_headers_and_status(self):
        st, h, hl, data = php_request(self.addr, "GET", "/headers.php?code=418")
        self.assertEqual(st, 418)
        self.assertEqual(data, b"headers body\n")
        self.assertEqual(h.get("x-php"), "yes")
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")
        cookies = sorted(v.split(";")[0] for k, v in hl if k.lower() == "set-cookie")
        self.assertEqual(cookies, ["a=1", "b=2"])
        st, h, _, _ = php_request(self.addr, "GET", "/headers.php")
        self.assertEqual(st, 200)
        st, _, _, _ = php_request(self.addr, "GET", "/headers.php?code=404")
        self.assertEqual(st, 404)

    def test_location_redirects(self):
        # header('Location: /other.php'): PHP itself adds Status: 302
        st, h, _, _ = php_request(self.addr, "GET", "/redirect.php?to=/other.php")
        self.assertEqual(st, 302)
        self.assertEqual(h.get("location"), "/other.php")
        # absolute
        st, h, _, _ = php_request(self.addr, "GET", "/redirect.php?to=" + urllib.parse.quote("http://example.test/a?b=c", safe=""))
        self.assertEqual(st, 302)
        self.assertEqual(h.get("location"), "http://example.test/a?b=c")
        # Location without Status (code 200): a CGI local redirect, answered by GET /other.php
        st, h, _, data = php_request(self.addr, "GET", "/redirect.php?local=1&to=" + urllib.parse.quote("/other.php?from=r", safe=""))
        self.assertEqual((st, data), (200, b"other.php: GET [from=r]\n"))
        st, h, _, data = php_request(self.addr, "POST", "/redirect.php?local=1&to=/other.php", body=b"a=b",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((st, data), (200, b"other.php: GET []\n"))
        st, h, _, data = php_request(self.addr, "GET", "/redirect.php?local=1&to=/static.txt")
        self.assertEqual((st, data), (200, STATIC))

    def test_head(self):
        s = socket.create_connection(self.addr, timeout=15)
        try:
            for target in ("/gen.php?bytes=1000000", "/index.php", "/headers.php?code=201"):
                s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
                st, h, _, rest = read_response(s, head_only=True)
                self.assertEqual(st, 201 if "201" in target else 200, target)
                s.sendall(b"GET /static.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                buf = rest
                while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < len(STATIC):
                    b = s.recv(65536)
                    self.assertTrue(b, "closed after HEAD %s" % target)
                    buf += b
                self.assertTrue(buf.startswith(b"HTTP/1.1 200"), "HEAD %s sent a body: %r" % (target, buf[:200]))
                self.assertTrue(buf.endswith(STATIC))
        finally:
            s.close()

    def test_index_php(self):
        st, _, _, data = php_request(self.addr, "GET", "/")
        self.assertEqual((st, data), (200, b"index.php at /index.php\n"))
        st, _, _, data = php_request(self.addr, "GET", "/htmlonly/")
        self.assertEqual((st, data), (200, b"<p>html index</p>\n"))
        st, _, _, data = php_request(self.addr, "GET", "/static.txt")
        self.assertEqual((st, data), (200, STATIC))

    # ---- paths

    def test_path_info(self):
        s = self.info("/info.php/a/b")["server"]
        self.assertEqual(s["PATH_INFO"], "/a/b")
        self.assertEqual(s["SCRIPT_NAME"], "/info.php")
        self.assertEqual(s["SCRIPT_FILENAME"], self.root + "/info.php")
        self.assertEqual(s["PHP_SELF"], "/info.php/a/b")
        self.assertEqual(s["PATH_TRANSLATED"], self.root + "/a/b")
        self.assertEqual(s["REQUEST_URI"], "/info.php/a/b")
        s = self.info("/sub/deep.php/x%20y/z.php?k=v")["server"]
        self.assertEqual((s["SCRIPT_NAME"], s["PATH_INFO"], s["QUERY_STRING"]), ("/sub/deep.php", "/x y/z.php", "k=v"))
        self.assertEqual(s["SCRIPT_FILENAME"], self.root + "/sub/deep.php")
        s = self.info("/info.php")["server"]
        self.assertIn(s["PATH_INFO"], (None, ""))
        self.assertEqual(s["PHP_SELF"], "/info.php")

    def test_missing_script_404(self):
        self.access_marker("before-missing")
        for target in ("/nope.php", "/nope.php/a/b", "/sub/nope.php"):
            with self.subTest(target=target):
                self.assertEqual(raw_status(self.addr, target), 404)
        self.access_marker("after-missing")
        self.assertNotIn("nope.php", self.fpm.access_text(), "a missing script was sent to php-fpm")

    def test_cve_2019_11043(self):
        targets = ["/index.php/PHP%0Ais_the_shittiest_lang.php?" + "Q" * n for n in (1500, 1700)]
        targets += ["/info.php/PHP%0Ais_the_shittiest_lang.php?a=1", "/info.php/x%0dy", "/info.php/x%00y",
                    "/inf%0Ao.php"]
        self.access_marker("before-cve")
        for target in targets:
            with self.subTest(target=target[:50]):
                if "%00" in target:  # hearth's path layer refuses an encoded NUL with 403 already
                    self.assertIn(raw_status(self.addr, target), (400, 403))
                else:
                    self.assertEqual(raw_status(self.addr, target), 400)
        self.access_marker("after-cve")
        log = self.fpm.access_text()
        self.assertNotIn("shittiest", log, "the exploit path reached php-fpm")
        for enc in ("%0a", "%0d", "%00"):
            self.assertNotIn(enc, log.lower(), "an encoded CR, LF or NUL reached php-fpm")

    # ---- logs and faults

    def test_php_stderr_in_the_error_log(self):
        st, _, _, data = php_request(self.addr, "GET", "/stderr.php?n=77")
        self.assertEqual((st, data), (200, b"logged\n"))
        lines = wait_until(lambda: [l for l in self.h.stderr_text().splitlines() if "PHP-STDERR-MARKER 77" in l], 5)
        self.assertTrue(lines, self.h.stderr_text()[-2000:])
        self.assertIn("[warn]", lines[0])
        self.assertIn("/stderr.php", lines[0])

    def test_client_abort(self):
        """Two clients (as many as php-fpm has children) leave a 1 GB response
        early; php-fpm's children are freed and the next requests are served."""
        socks = []
        for i in range(2):
            s = socket.create_connection(self.addr, timeout=15)
            s.sendall(b"GET /gen.php?bytes=1000000000&abort=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            socks.append(s)
        for s in socks:
            got = 0
            while got < 200000:
                b = s.recv(65536)
                self.assertTrue(b)
                got += len(b)
        for s in socks:
            s.close()
        t0 = time.monotonic()
        for i in range(4):
            st, _, _, data = php_request(self.addr, "GET", "/other.php?after-abort-%d" % i, timeout=20)
            self.assertEqual((st, data), (200, b"other.php: GET [after-abort-%d]\n" % i))
        self.assertLess(time.monotonic() - t0, 15, "php-fpm's children stayed busy with the aborted requests")
        # php-fpm ended them (its access log has the aborted requests)
        self.assertTrue(wait_until(lambda: self.fpm.access_text().count("abort=") >= 2, 10), self.fpm.access_text())

    def test_many_requests(self):
        """Sequential and parallel requests through pooled connections; more
        clients at once (6) than php-fpm has children (2): php-fpm keeps a child
        on a FCGI_KEEP_CONN connection until the web server closes it, so a
        request must never wait on a new connection in php-fpm's accept queue
        while the children sit on idle pooled ones."""
        for i in range(30):
            st, _, _, data = php_request(self.addr, "GET", "/other.php?seq=%d" % i)
            self.assertEqual((st, data), (200, b"other.php: GET [seq=%d]\n" % i))
        results = []

        def worker(k):
            for i in range(5):
                try:
                    results.append(php_request(self.addr, "GET", "/other.php?w=%d&i=%d" % (k, i), timeout=10)[0])
                except Exception as e:  # noqa: BLE001 - reported below
                    results.append(repr(e))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results, [200] * 30)


if __name__ == "__main__":
    unittest.main()
