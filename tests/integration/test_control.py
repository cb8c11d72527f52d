"""The control socket, spoken to in raw bytes (as another client would, from
docs/control-protocol.md): counters, per-worker rows, requests that steer the
master, permissions, and garbage that must not hurt it."""
import http.client
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Server, TempRoot, recv_exact

MAGIC = b"HRTH"
STATUS, RELOAD, STOP, QUIT, REOPEN, SET_NICE = 1, 2, 3, 4, 5, 6
OK, STATUS_REPLY, ERROR = 0x80, 0x81, 0xFF


def header(type_, rid, length, version=1):
    return MAGIC + struct.pack(">BBHII", version, type_, 0, rid, length)


def answering(path):
    """The control socket is there and listening: the file appears at bind,
    a moment before listen, so its existence alone is not readiness."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def read_reply(s):
    h = recv_exact(s, 16)
    assert h[:4] == MAGIC, h
    version, type_, flags, rid, length = struct.unpack(">BBHII", h[4:])
    return version, type_, rid, recv_exact(s, length)


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.d, self.o)
        self.o += struct.calcsize(">" + fmt)
        return v[0]

    def str(self):
        n = self.take("H")
        s = self.d[self.o:self.o + n].decode()
        self.o += n
        return s


def decode_status(p):
    r = Reader(p)
    st = {"version": r.str(), "pid": r.take("I"), "uptime_ms": r.take("Q"), "config_file": r.str(),
          "generation": r.take("I")}
    st["listeners"] = [r.str() for _ in range(r.take("H"))]
    st["totals"] = {k: r.take("Q") for k in ("accepted", "active", "requests", "bytes_in", "bytes_out")}
    st["totals"]["status"] = [r.take("Q") for _ in range(5)]
    workers = []
    for _ in range(r.take("H")):
        w = {"pid": r.take("I"), "generation": r.take("I"), "slot": r.take("H"), "state": chr(r.take("B")),
             "nice": r.take("b"), "cpu_ms": r.take("Q"), "rss_bytes": r.take("Q"), "active": r.take("Q"),
             "requests": r.take("Q"), "bytes_out": r.take("Q")}
        workers.append(w)
    st["workers"] = workers
    assert r.o == len(p), "trailing bytes in STATUS"
    return st


def request(path, type_, payload=b"", rid=42):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(header(type_, rid, len(payload)) + payload)
        return read_reply(s)
    finally:
        s.close()


def status(path):
    v, t, rid, p = request(path, STATUS)
    assert (v, t, rid) == (1, STATUS_REPLY, 42), (v, t, rid)
    return decode_status(p)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/status" % d) as f:
                    if "\nPPid:\t%d\n" % pid in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return sorted(out)


def proc_nice(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def wait_for(cond, timeout=5.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class ControlTest(unittest.TestCase):
    def setUp(self):
        self.root = TempRoot()
        os.chmod(self.root.path, 0o755)
        self.root.write("k.bin", b"x" * 1000, mode=0o644)
        self.dir = tempfile.mkdtemp(prefix="hearth-ctl-")
        self.ctl = os.path.join(self.dir, "h.ctl")
        self.server = Server(self.root.path, "--workers", "2", "--control", self.ctl)
        wait_for(lambda: answering(self.ctl), what="the control socket")
        wait_for(lambda: len(status(self.ctl)["workers"]) == 2, what="two workers")

    def tearDown(self):
        self.server.stop()
        self.root.cleanup()
        subprocess.run(["rm", "-rf", self.dir])

    def get(self, path="/k.bin", n=1):
        c = http.client.HTTPConnection(*self.server.address(), timeout=5)
        for _ in range(n):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
        c.close()
        return r.status

    def test_socket_mode_0600(self):
        self.assertEqual(os.stat(self.ctl).st_mode & 0o777, 0o600)

    def test_counters_after_known_requests(self):
        before = status(self.ctl)["totals"]
        self.get("/k.bin", 10)
        self.get("/missing", 3)
        # counters are written by the workers as responses finish
        after = wait_for(lambda: (lambda t: t if t["requests"] - before["requests"] >= 13 else None)(
            status(self.ctl)["totals"]), what="13 requests counted")
        self.assertEqual(after["requests"] - before["requests"], 13)
        self.assertEqual(after["status"][1] - before["status"][1], 10)  # 2xx
        self.assertEqual(after["status"][3] - before["status"][3], 3)   # 4xx
        self.assertEqual(after["accepted"] - before["accepted"], 2)
        out = after["bytes_out"] - before["bytes_out"]
        self.assertGreater(out, 10 * 1000)        # ten bodies, plus heads
        self.assertLess(out, 10 * 1000 + 13 * 600)
        self.assertGreater(after["bytes_in"] - before["bytes_in"], 13 * 20)
        print("counters: %d requests, %d bytes out" % (after["requests"] - before["requests"], out))

    def test_worker_rows_match_the_processes(self):
        st = status(self.ctl)
        self.assertEqual(st["pid"], self.server.proc.pid)
        self.assertEqual(sorted(w["pid"] for w in st["workers"]), children(self.server.proc.pid))
        for w in st["workers"]:
            self.assertIn(w["state"], "RSDT")
            self.assertEqual(w["nice"], proc_nice(w["pid"]))
            self.assertGreater(w["rss_bytes"], 0)
        self.assertEqual(st["version"], "0.1.0")
        self.assertEqual(st["generation"], 1)
        self.assertEqual(len(st["listeners"]), 1)
        self.assertTrue(st["listeners"][0].startswith("127.0.0.1:"), st["listeners"])

    def test_counters_survive_a_replaced_worker(self):
        self.get("/k.bin", 5)
        before = wait_for(lambda: (lambda t: t if t["requests"] >= 5 else None)(status(self.ctl)["totals"]),
                          what="5 requests")
        killed = {w["pid"] for w in status(self.ctl)["workers"]}
        for pid in killed:
            os.kill(pid, 9)
        wait_for(lambda: (lambda ws: len(ws) == 2 and killed.isdisjoint(ws))(
            {w["pid"] for w in status(self.ctl)["workers"]}), what="two new workers")
        after = status(self.ctl)["totals"]
        # what the dead workers counted is still in the totals
        self.assertGreaterEqual(after["requests"], before["requests"])
        self.assertGreaterEqual(after["status"][1], before["status"][1])
        self.get("/k.bin", 2)
        wait_for(lambda: status(self.ctl)["totals"]["requests"] >= before["requests"] + 2, what="new counts")

    def test_set_nice_live(self):
        v, t, _, p = request(self.ctl, SET_NICE, struct.pack(">b", 7))
        self.assertEqual(t, OK, p)
        for w in status(self.ctl)["workers"]:
            self.assertEqual(proc_nice(w["pid"]), 7)
            self.assertEqual(w["nice"], 7)
        v, t, _, p = request(self.ctl, SET_NICE, struct.pack(">b", 30))
        self.assertEqual(t, ERROR)

    def test_reload_over_the_socket(self):
        pids = sorted(w["pid"] for w in status(self.ctl)["workers"])
        v, t, _, p = request(self.ctl, RELOAD)
        self.assertEqual(t, OK, p)
        st = wait_for(lambda: (lambda s: s if s["generation"] == 2 and len(s["workers"]) == 2
                               and all(w["generation"] == 2 for w in s["workers"]) else None)(status(self.ctl)),
                      what="generation 2 alone")
        self.assertTrue(set(pids).isdisjoint(w["pid"] for w in st["workers"]))
        self.assertEqual(self.get(), 200)

    def test_reopen_over_the_socket(self):
        v, t, _, p = request(self.ctl, REOPEN)
        self.assertEqual(t, OK)
        self.assertIn(b"reopened", p)

    def test_stop_over_the_socket(self):
        v, t, _, p = request(self.ctl, STOP)
        self.assertEqual(t, OK)
        self.assertEqual(self.server.proc.wait(15), 0)
        self.assertFalse(os.path.exists(self.ctl))

    def test_quit_over_the_socket(self):
        v, t, _, p = request(self.ctl, QUIT)
        self.assertEqual(t, OK)
        self.server.proc.wait(5)

    def test_unknown_version_gets_a_clear_error(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.ctl)
        s.sendall(header(STATUS, 9, 0, version=7))
        v, t, rid, p = read_reply(s)
        self.assertEqual((v, t), (1, ERROR))
        code = struct.unpack(">H", p[:2])[0]
        self.assertEqual(code, 2)
        self.assertIn(b"version", p)
        self.assertEqual(s.recv(10), b"")  # then closed
        s.close()

    def test_garbage_leaves_the_master_serving(self):
        cases = [b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 64, os.urandom(2000), header(STATUS, 1, 0)[:9],
                 header(0x42, 1, 0), header(STATUS, 1, 100000), header(SET_NICE, 1, 3) + b"\x01\x02\x03",
                 header(STATUS, 1, 4) + b"abcd", MAGIC]
        for data in cases:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(6)
            s.connect(self.ctl)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError):
                pass
            s.close()
        # several requests on one connection still work, and the master serves
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.ctl)
        for rid in (1, 2, 3):
            s.sendall(header(STATUS, rid, 0))
            v, t, got, p = read_reply(s)
            self.assertEqual((t, got), (STATUS_REPLY, rid))
        s.close()
        self.assertEqual(self.get(), 200)
        self.assertTrue(self.server.alive())

    def test_stalled_client_is_cut(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.ctl)
        s.sendall(header(STATUS, 1, 0)[:10])
        t0 = time.monotonic()
        self.assertEqual(s.recv(10), b"")
        self.assertLess(time.monotonic() - t0, 8)
        s.close()
        self.assertEqual(status(self.ctl)["pid"], self.server.proc.pid)

    def test_trickled_request_is_cut(self):
        # bytes trickling in do not extend the 5 s an exchange has
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1.5)
        s.connect(self.ctl)
        t0 = time.monotonic()
        closed = None
        try:
            for b in header(STATUS, 1, 0)[:15]:
                try:
                    s.sendall(bytes([b]))
                    if s.recv(10) == b"":
                        closed = time.monotonic() - t0
                        break
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = time.monotonic() - t0
                    break
        finally:
            s.close()
        self.assertIsNotNone(closed, "a client trickling a byte every 1.5 s was kept for 22 s")
        self.assertLess(closed, 8)
        self.assertEqual(status(self.ctl)["pid"], self.server.proc.pid)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")
    def test_another_user_is_refused(self):
        nobody = pwd.getpwnam("nobody")
        # nobody may not be able to reach the build directory (a checkout in a
        # 0700 folder): run a copy from a folder everyone can enter
        bindir = tempfile.mkdtemp(prefix="hearth-bin-")
        self.addCleanup(shutil.rmtree, bindir, True)
        os.chmod(bindir, 0o755)
        client = os.path.join(bindir, "hearth")
        shutil.copy(BIN, client)
        os.chmod(client, 0o755)
        # the file mode alone keeps them out...
        r = subprocess.run([client, "status", "--control", self.ctl], capture_output=True, text=True,
                           user=nobody.pw_uid, group=nobody.pw_gid, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission denied", r.stderr)
        # ...and with the file opened up, SO_PEERCRED still does
        os.chmod(self.ctl, 0o666)
        os.chmod(self.dir, 0o755)
        code = ("import socket,struct,sys\n"
                "s=socket.socket(socket.AF_UNIX);s.settimeout(5);s.connect(sys.argv[1])\n"
                "s.sendall(b'HRTH'+struct.pack('>BBHII',1,1,0,1,0))\n"
                "d=b''\n"
                "while True:\n"
                "    c=s.recv(4096)\n"
                "    if not c: break\n"
                "    d+=c\n"
                "sys.stdout.write(d.hex())\n")
        r = subprocess.run(["python3", "-c", code, self.ctl], capture_output=True, text=True,
                           user=nobody.pw_uid, group=nobody.pw_gid, timeout=10)
        reply = bytes.fromhex(r.stdout)
        self.assertEqual(reply[5], ERROR, r)
        self.assertEqual(struct.unpack(">H", reply[16:18])[0], 6)  # permission
        self.assertEqual(status(self.ctl)["pid"], self.server.proc.pid)


class ControlDefaultsTest(unittest.TestCase):
    def test_default_path_next_to_the_pid_file(self):
        root = TempRoot()
        d = tempfile.mkdtemp(prefix="hearth-ctl-")
        try:
            pid = os.path.join(d, "web.pid")
            with Server(root.path, "--workers", "1", "--pid-file", pid) as s:
                ctl = os.path.join(d, "web.ctl")
                wait_for(lambda: answering(ctl), what="web.ctl beside web.pid")
                self.assertEqual(status(ctl)["pid"], s.proc.pid)
                r = subprocess.run([BIN, "-s", "reload", "--pid-file", pid], capture_output=True, timeout=10)
                self.assertEqual(r.returncode, 0, r.stderr)
                wait_for(lambda: status(ctl)["generation"] == 2, what="reload through -s")
        finally:
            root.cleanup()
            subprocess.run(["rm", "-rf", d])

    def test_control_off(self):
        root = TempRoot()
        d = tempfile.mkdtemp(prefix="hearth-ctl-")
        try:
            with Server(root.path, "--workers", "0", "--control", "off", "--pid-file", os.path.join(d, "p.pid")):
                self.assertEqual(sorted(os.listdir(d)), ["p.pid"])
        finally:
            root.cleanup()
            subprocess.run(["rm", "-rf", d])

    def test_single_process_answers_status(self):
        root = TempRoot()
        d = tempfile.mkdtemp(prefix="hearth-ctl-")
        try:
            ctl = os.path.join(d, "s.ctl")
            with Server(root.path, "--workers", "0", "--control", ctl) as s:
                wait_for(lambda: answering(ctl), what="socket")
                st = status(ctl)
                self.assertEqual([w["pid"] for w in st["workers"]], [s.proc.pid])
                v, t, _, p = request(ctl, RELOAD)
                self.assertEqual(t, ERROR)
                self.assertEqual(struct.unpack(">H", p[:2])[0], 8)  # unsupported
        finally:
            root.cleanup()
            subprocess.run(["rm", "-rf", d])

    def test_accept_resumes_after_running_out_of_descriptors(self):
        # the master at a low descriptor limit: clients past it wait in the
        # backlog, and are served once descriptors are free again, without
        # another client having to connect
        import resource
        import select

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

        root = TempRoot()
        d = tempfile.mkdtemp(prefix="hearth-ctl-")
        socks = []
        try:
            ctl = os.path.join(d, "s.ctl")
            with Server(root.path, "--workers", "1", "--control", ctl, preexec_fn=low_limit) as srv:
                wait_for(lambda: answering(ctl) and len(status(ctl)["workers"]) == 1, what="one worker")
                for i in range(28):
                    c = socket.socket(socket.AF_UNIX)
                    c.settimeout(5)
                    c.connect(ctl)
                    c.sendall(header(STATUS, i + 1, 0))
                    socks.append(c)
                # before any is closed: the master answers clients until it
                # runs out of descriptors, and no further (a slow master would
                # otherwise keep up with the closes and never reach the limit)
                answered, quiet_since = 0, time.monotonic()
                while time.monotonic() - quiet_since < 1.0:
                    n = len(select.select(socks, [], [], 0.2)[0])
                    if n != answered:
                        answered, quiet_since = n, time.monotonic()
                self.assertLess(answered, 28, "the limit was not reached")
                wait_for(lambda: "accept: Too many open files; retrying" in srv.stderr_text(),
                         what="the accept failure logged")
                waiting, served = list(socks), 0
                deadline = time.monotonic() + 10
                while waiting and time.monotonic() < deadline:
                    ready, _, _ = select.select(waiting, [], [], 0.5)
                    for c in ready:
                        v, t, rid, p = read_reply(c)
                        self.assertEqual(t, STATUS_REPLY)
                        served += 1
                        waiting.remove(c)
                        c.close()  # frees the master's descriptor for the next
                self.assertEqual(waiting, [], "%d of 28 served; the rest stayed in the backlog:\n%s"
                                 % (served, srv.stderr_text()[-2000:]))
        finally:
            for c in socks:
                c.close()
            root.cleanup()
            subprocess.run(["rm", "-rf", d])

    @unittest.skipUnless(os.geteuid() == 0, "needs root (to drop to another user)")
    def test_single_process_drops_privileges_after_the_control_socket(self):
        # --workers 0 as root: the control socket is made (root's, 0600, in a
        # directory only root may write) before the process becomes nobody
        root = TempRoot()
        os.chmod(root.path, 0o755)
        d = tempfile.mkdtemp(prefix="hearth-ctl-")
        try:
            ctl = os.path.join(d, "s.ctl")
            with Server(root.path, "--workers", "0", "--user", "nobody", "--control", ctl) as s:
                wait_for(lambda: answering(ctl), what="socket")
                st = os.stat(ctl)
                self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
                self.assertEqual([w["pid"] for w in status(ctl)["workers"]], [s.proc.pid])
                nobody = pwd.getpwnam("nobody").pw_uid
                with open("/proc/%d/status" % s.proc.pid) as f:
                    uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
                self.assertEqual({int(u) for u in uids}, {nobody})
        finally:
            root.cleanup()
            subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    unittest.main()
