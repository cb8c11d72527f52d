"""Shared helpers for hearth's integration tests (standard library only).

Each test starts the real binary on an ephemeral loopback port and waits for
readiness by reading the "listening on HOST:PORT" line hearth writes to its
error log (stderr) once its listeners are bound: never a fixed sleep.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("HEARTH_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BIN = os.environ.get("HEARTH_BIN", os.path.join(SOURCE_DIR, "build", "hearth"))

# the HTTP listener ("metrics listening on ..." and the like name other sockets)
LISTEN_RE = re.compile(rb"\] \d+: listening on (\S+):(\d+)")


def compat_args(args):
    """Flags most tests want unless they are about that very thing: one
    process (not a master and workers), and, when run as root, keeping root
    (started as root without --user, workers would run as nobody and could not
    read a mkdtemp root)."""
    extra = []
    if not any(str(a).startswith("--workers") for a in args):
        extra += ["--workers", "0"]
    if os.geteuid() == 0 and not any(str(a).startswith("--user") for a in args):
        extra += ["--user", "root"]
    # the default control socket is hearth.ctl in the working directory, which
    # tests running side by side would share
    if not any(str(a).startswith(("--control", "--pid-file", "-c", "--config")) for a in args):
        extra += ["--control", "off"]
    return extra


class Server:
    """A running hearth. Use as a context manager or call stop()."""

    def __init__(self, root, *args, listen="127.0.0.1:0", env=None, timeout=10.0,
                 access_log="off", preexec_fn=None):
        self.root = root
        argv = [BIN, "--listen", listen]
        if access_log is not None:
            argv += ["--access-log", access_log]
        argv += compat_args(args) + list(args) + ([root] if root is not None else [])
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, preexec_fn=preexec_fn)
        self.stderr_lines = []
        self.stdout_lines = []
        self._ready = threading.Event()
        self.port = None
        self.host = None
        self._t_err = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines, True),
                                       daemon=True)
        self._t_out = threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines, False),
                                       daemon=True)
        self._t_err.start()
        self._t_out.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                self._t_err.join(2)
                raise RuntimeError("hearth exited with %s before listening:\n%s" % (
                    self.proc.returncode, self.stderr_text()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("hearth did not report listening:\n%s" % self.stderr_text())

    def _pump(self, stream, sink, watch):
        for line in iter(stream.readline, b""):
            sink.append(line)
            if watch and self.port is None:
                m = LISTEN_RE.search(line)
                if m:
                    self.host = m.group(1).decode().strip("[]")
                    self.port = int(m.group(2))
                    self._ready.set()
        stream.close()

    def stderr_text(self):
        return b"".join(self.stderr_lines).decode(errors="replace")

    def stdout_text(self):
        return b"".join(self.stdout_lines).decode(errors="replace")

    def address(self):
        return (self.host, self.port)

    def connect(self, timeout=10.0):
        s = socket.create_connection(self.address(), timeout=timeout)
        return s

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=None):
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t_err.join(5)
        self._t_out.join(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def raw_request(addr, data, timeout=5.0, read_until_close=True):
    """Send raw bytes, return everything the server sends until it closes
    (or until timeout when read_until_close is False)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                if read_until_close:
                    raise
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def recv_exact(s, n):
    """Exactly n bytes from socket s; EOFError when it closes first."""
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_response(sock, head_only=False):
    """Read one HTTP/1.1 response from sock (Content-Length framed or until
    close). Returns (status, headers dict lower-cased, body bytes, leftover)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("connection closed before head: %r" % buf)
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers[k.strip().lower().decode()] = v.strip().decode()
    if head_only or status in (204, 304):
        return status, headers, b"", rest
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            b = sock.recv(65536)
            if not b:
                raise EOFError("short body")
            rest += b
        return status, headers, rest[:n], rest[n:]
    while True:
        b = sock.recv(65536)
        if not b:
            break
        rest += b
    return status, headers, rest, b""


class TempRoot:
    """A temporary document root, removed afterwards."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="hearth-test-")

    def write(self, rel, data=b"", mode=None):
        p = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        if mode is not None:
            os.chmod(p, mode)
        return p

    def mkdir(self, rel):
        p = os.path.join(self.path, rel)
        os.makedirs(p, exist_ok=True)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class ServerTestCase(unittest.TestCase):
    """Starts one hearth for the class over a temp root that setUpClass fills.
    Subclasses override populate(root) and server_args."""

    server_args = ()

    @classmethod
    def populate(cls, root):
        pass

    @classmethod
    def setUpClass(cls):
        cls.root = TempRoot()
        cls.populate(cls.root)
        cls.server = Server(cls.root.path, *cls.server_args)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.root.cleanup()

    def setUp(self):
        self.assertTrue(self.server.alive(), "hearth died:\n" + self.server.stderr_text())


# ---------------------------------------------------------------------------
# Process-model helpers (issue 3: master/workers, signals, daemon, unix sockets,
# configuration file). Everything below reads /proc; Linux only.

import signal as _signal


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_until(predicate, timeout, interval=0.02):
    """Poll predicate until it returns something truthy or timeout passes;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def file_text(path):
    """A file's content as text ("" when it does not exist)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def proc_stat(pid):
    """/proc/PID/stat as a dict {field number (1-based, as in proc(5)): bytes},
    or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    r = s.rfind(b")")
    fields = {1: s[:s.find(b" ")], 2: s[s.find(b"(") + 1:r]}
    for i, v in enumerate(s[r + 2:].split(), start=3):
        fields[i] = v
    return fields


def proc_status(pid):
    """/proc/PID/status as a dict of str, or None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            text = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def proc_title(pid):
    """What ps shows for PID: /proc/PID/cmdline, NUL-separated words joined
    by spaces (empty words dropped). None when gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return " ".join(w.decode(errors="replace") for w in raw.split(b"\0") if w).strip()


def children_of(pid, include_zombies=False):
    """Pids whose parent is pid (zombies left out unless asked)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st is None or int(st[4]) != pid:
            continue
        if st[3] == b"Z" and not include_zombies:
            continue
        out.append(int(d))
    return sorted(out)


def zombies_of(pid):
    """Children of pid in state Z (exited, not reaped)."""
    return [c for c in children_of(pid, include_zombies=True)
            if (proc_stat(c) or {}).get(3) == b"Z"]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[3] not in (b"Z", b"X")


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_age(pid):
    """Seconds since pid started (field 22 of /proc/PID/stat vs /proc/uptime),
    or None when gone."""
    st = proc_stat(pid)
    if st is None:
        return None
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return up - int(st[22]) / _CLK_TCK


_HELP = None


def bin_has_flag(flag):
    """Whether `hearth --help` mentions flag (for options newer than some builds)."""
    global _HELP
    if not _HELP:
        try:
            _HELP = subprocess.run([BIN, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=10).stdout.decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return False
    return re.search(r"(^|\s)%s\b" % re.escape(flag), _HELP, re.M) is not None


class Hearth:
    """hearth started with BIN + args exactly (plus "--user root" when running
    as root, unless args name --user or add_user is False, and "--control off"
    when the binary has it, unless args name --control or --pid-file). Its error log is
    stderr, or the file error_log when given (pass --error-log yourself). Ready
    once `ready` (a bytes regex) matches the error log; host/port are taken from
    the first "listening on HOST:PORT" line when there is one."""

    def __init__(self, args, error_log=None, ready=rb"\] \d+: listening on ", timeout=10.0,
                 cwd=None, add_user=True, env=None):
        argv = [BIN] + [str(a) for a in args]
        if add_user and os.geteuid() == 0 and not any(a.startswith("--user") for a in argv):
            argv += ["--user", "root"]
        # without --control or --pid-file the control socket would be hearth.ctl in the
        # working directory, shared by tests running side by side
        if bin_has_flag("--control") and not any(a.startswith(("--control", "--pid-file")) for a in argv):
            argv += ["--control", "off"]
        self.argv = argv
        self.error_log = error_log
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, env=env)
        self.pid = self.proc.pid
        self.stderr_lines = []
        self.stdout_lines = []
        self._seen_workers = set()
        self._threads = [threading.Thread(target=self._pump, args=(s, l), daemon=True)
                         for s, l in ((self.proc.stderr, self.stderr_lines),
                                      (self.proc.stdout, self.stdout_lines))]
        for t in self._threads:
            t.start()
        self.host = self.port = None
        rx = re.compile(ready)
        deadline = time.monotonic() + timeout
        while not rx.search(self.log_bytes()):
            if self.proc.poll() is not None:
                for t in self._threads:
                    t.join(2)
                raise RuntimeError("hearth exited with %s before %r:\n%s" % (
                    self.proc.returncode, ready, self.log_text()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("hearth did not log %r:\n%s" % (ready, self.log_text()))
            time.sleep(0.02)
        m = LISTEN_RE.search(self.log_bytes())
        if m:
            self.host = m.group(1).decode().strip("[]")
            self.port = int(m.group(2))

    def _pump(self, stream, sink):
        for line in iter(stream.readline, b""):
            sink.append(line)
        stream.close()

    def log_bytes(self):
        if self.error_log is None:
            return b"".join(self.stderr_lines)
        try:
            with open(self.error_log, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def log_text(self):
        text = self.log_bytes().decode(errors="replace")
        if self.error_log is not None and self.stderr_lines:
            text += "\n[stderr]\n" + b"".join(self.stderr_lines).decode(errors="replace")
        return text

    def wait_log(self, regex, timeout=5.0, count=1):
        """Wait until regex (str) matches at least count times in the error log;
        returns the list of matches (possibly shorter on timeout)."""
        rx = re.compile(regex)
        found = wait_until(lambda: len(rx.findall(self.log_text())) >= count, timeout)
        return rx.findall(self.log_text())

    def address(self):
        return (self.host, self.port)

    def alive(self):
        return self.proc.poll() is None

    def workers(self):
        w = children_of(self.pid)
        self._seen_workers.update(w)
        return w

    def wait_workers(self, n, timeout=5.0, exclude=()):
        """Wait until exactly n live children exist, none of them in exclude;
        returns them (or the last list seen)."""
        def ok():
            w = self.workers()
            return w if len(w) == n and not set(w) & set(exclude) else None
        return wait_until(ok, timeout, 0.01) or self.workers()

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout):
        """Wait for the master to exit; returns its status or None on timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=_signal.SIGTERM, timeout=10.0):
        """Stop the master (sig, then SIGKILL after timeout) and SIGKILL any
        worker seen that is still alive afterwards. Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.workers()
            except OSError:
                pass
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for w in list(self._seen_workers):
            st = proc_stat(w)
            # only our own former workers, orphaned: titled hearth and whose parent is
            # no hearth master (a reused pid under another test's master is left alone)
            if st is None or st[3] == b"Z" or not (proc_title(w) or "").startswith("hearth"):
                continue
            parent = int(st[4])
            if parent == self.pid or not (proc_title(parent) or "").startswith("hearth: master"):
                try:
                    os.kill(w, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for t in self._threads:
            t.join(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def fd_targets(pid):
    """What pid's descriptors point at (readlink of /proc/PID/fd/*); a
    descriptor closed while the table is read is skipped, not an error."""
    out = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return out


def socket_inodes(pid):
    """Inodes of the sockets in pid's descriptor table."""
    return {int(t[8:-1]) for t in fd_targets(pid) if t.startswith("socket:[")}


def server_side_inode(client):
    """Inode of the server's end of the IPv4 TCP connection client (from
    /proc/net/tcp); None until the server has accepted it."""
    cport = client.getsockname()[1]
    sport = client.getpeername()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            if lport == sport and rport == cport and int(fields[9]):
                return int(fields[9])
    return None


def owner_of(client, pids):
    """The pid among pids whose descriptor table holds the server side of the
    TCP connection client (it has accepted it), or None."""
    ino = server_side_inode(client)
    for p in pids:
        if ino is not None and ino in socket_inodes(p):
            return p
    return None
