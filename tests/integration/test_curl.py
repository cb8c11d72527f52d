"""hearth as curl sees it: a real client's framing, keep-alive reuse, ranges,
uploads refused cleanly, and traversal attempts sent verbatim (--path-as-is)."""
import hashlib
import os
import shutil
import subprocess
import unittest

from harness import ServerTestCase

CURL = shutil.which("curl")


@unittest.skipIf(CURL is None, "curl is not installed (scripts/install-deps installs it)")
class CurlTest(ServerTestCase):
    server_args = ("--listing",)

    @classmethod
    def populate(cls, root):
        cls.blob = os.urandom(300 * 1024)
        root.write("blob.bin", cls.blob)
        root.write("hello.txt", b"hello, curl\n")
        root.write("dir/a.txt", b"a")

    def curl(self, *args, ok=True):
        argv = [CURL, "-sS", "--max-time", "20"] + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=30)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server.port, path)

    def test_get_whole_file_by_hash(self):
        p = self.curl(self.url("/blob.bin"))
        self.assertEqual(hashlib.sha256(p.stdout).hexdigest(), hashlib.sha256(self.blob).hexdigest())

    def test_head(self):
        p = self.curl("-I", self.url("/hello.txt"))
        head = p.stdout.decode()
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertIn("Content-Length: 12", head)
        self.assertIn("Content-Type: text/plain; charset=utf-8", head)

    def test_range(self):
        p = self.curl("-r", "100-199", "-D", "-", self.url("/blob.bin"))
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        self.assertIn(b"206 Partial Content", head)
        self.assertIn(b"Content-Range: bytes 100-199/%d" % len(self.blob), head)
        self.assertEqual(body, self.blob[100:200])

    def test_keepalive_reuse(self):
        p = self.curl("-v", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                      self.url("/hello.txt"), self.url("/blob.bin"), self.url("/nope"))
        err = p.stderr.decode(errors="replace")
        self.assertEqual(err.count("Connected to"), 1, err)
        self.assertGreaterEqual(err.count("Re-using existing connection"), 2, err)

    def test_redirect_followed(self):
        p = self.curl("-L", "-w", "%{url_effective} %{http_code}", "-o", "/dev/null", self.url("/dir"))
        self.assertEqual(p.stdout.decode(), self.url("/dir/") + " 200")

    def test_upload_refused_and_connection_usable(self):
        p = self.curl("-v", "-X", "PUT", "--data-binary", "x" * 5000, "-o", "/dev/null",
                      "-w", "%{http_code}\n", self.url("/hello.txt"),
                      "--next", "-o", "/dev/null", "-w", "%{http_code}\n", self.url("/hello.txt"))
        self.assertEqual(p.stdout.decode().split(), ["405", "200"])
        # the body was read and discarded, so the second request reused the connection
        self.assertIn("Re-using existing connection", p.stderr.decode(errors="replace"))

    def test_traversal_verbatim(self):
        for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/dir/../../etc/passwd",
                     "/..%2f..%2fetc/passwd"):
            p = self.curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", self.url(path))
            self.assertIn(p.stdout.decode(), ("400", "403", "404"), path)


if __name__ == "__main__":
    unittest.main()
