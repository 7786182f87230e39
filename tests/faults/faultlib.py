"""What the fault tests share: TAP output, a scratch directory, the real
servers (scripts/toms-demo-endpoint, tests/lib/hostile-endpoint.py,
tests/lib/smtp_sink.py), the real tomslinkd with a notify socket, the real
tomslinkctl, the private journald of tests/lib/with-journald.sh, and the
daemon's memory from /proc.

Each test is one program run as root by tests/faults/run.sh inside a
private mount namespace with its own journald."""
import atexit, base64, email, email.policy, glob, json, os, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from tap import Tap, wait_for  # noqa: E402,F401  (the fault tests take them from here)

PY = "/usr/bin/python3"


def secret(tag):
    return "%s-%s" % (tag, base64.b32encode(os.urandom(15)).decode())


class Env:
    """A scratch directory with a PKI, servers and one daemon at a time."""

    def __init__(self, build, src, name):
        self.build, self.src = build, src
        self.tomslinkd = os.path.join(build, "daemon", "tomslinkd")
        self.ctl_path = os.path.join(build, "daemon", "ctl", "tomslinkctl")
        self.T = tempfile.mkdtemp(prefix="tomslink-fault-%s-" % name)
        os.chmod(self.T, 0o755)
        self.procs = []
        self.daemon = None
        self.notes = []
        self.ids = {}
        for line in open(os.path.join(src, "lib", "alert.h")):
            if line.startswith("#define ALERT_MESSAGE_ID_"):
                k, v = line.split()[1:3]
                self.ids[k[len("ALERT_MESSAGE_ID_"):].lower().replace("_", "-")] = v.strip('"')
        subprocess.run(["sh", os.path.join(src, "tests", "lib", "mkpki.sh"), self.T + "/pki"], check=True,
                       stdout=subprocess.DEVNULL)
        self.socket_path = self.T + "/run/control.sock"
        self._notify_setup()
        self.cleaned = False
        atexit.register(self.cleanup)

    # ---- processes ------------------------------------------------------------------

    def start(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for m in reversed(getattr(self, "mounts", [])):
            subprocess.run(["umount", "-l", m], capture_output=True)
        subprocess.run(["rm", "-rf", self.T])

    def _port(self, path, proc, what):
        if not wait_for(lambda: os.path.exists(path) or proc.poll() is not None, 15) or not os.path.exists(path):
            print("Bail out! %s did not start" % what, flush=True)
            self.cleanup()
            sys.exit(1)
        return int(open(path).read())

    def start_endpoint(self, table, lifetime=600):
        """scripts/toms-demo-endpoint with table as its credentials file."""
        self.write_endpoint(table)
        p = self.start([PY, os.path.join(self.src, "scripts", "toms-demo-endpoint"), "--cert", self.T + "/pki/server.crt",
                        "--key", self.T + "/pki/server.key", "--credentials", self.T + "/endpoint.json",
                        "--port-file", self.T + "/endpoint.port", "--log", self.T + "/endpoint.log",
                        "--lifetime", str(lifetime)])
        self.https_port = self._port(self.T + "/endpoint.port", p, "the HTTPS endpoint")
        return self.https_port

    def write_endpoint(self, table):
        with open(self.T + "/endpoint.json.tmp", "w") as f:
            json.dump(table, f)
        os.rename(self.T + "/endpoint.json.tmp", self.T + "/endpoint.json")

    def endpoint_requests(self, path_prefix=""):
        try:
            lines = open(self.T + "/endpoint.log").read().splitlines()
        except OSError:
            return 0
        return sum(1 for l in lines if l.split(" ")[1:2] and l.split(" ")[1].startswith(path_prefix))

    def start_hostile(self, lifetime=600, answer_max=60):
        p = self.start([PY, os.path.join(self.src, "tests", "lib", "hostile-endpoint.py"), "--cert",
                        self.T + "/pki/server.crt", "--key", self.T + "/pki/server.key", "--port-file",
                        self.T + "/hostile.port", "--log", self.T + "/hostile.log", "--lifetime", str(lifetime),
                        "--answer-max", str(answer_max)])
        self.hostile_port = self._port(self.T + "/hostile.port", p, "the hostile endpoint")
        return self.hostile_port

    def hostile_log(self):
        try:
            return [json.loads(l) for l in open(self.T + "/hostile.log").read().splitlines() if l.strip()]
        except OSError:
            return []

    def start_smtp(self, lifetime=600):
        self.smtp_password = secret("Sm")
        with open(self.T + "/smtp-password", "w") as f:
            f.write(self.smtp_password + "\n")
        os.chmod(self.T + "/smtp-password", 0o600)
        p = self.start([PY, os.path.join(self.src, "tests", "lib", "smtp_sink.py"), "--outdir", self.T + "/mail",
                        "--port-file", self.T + "/smtp.port", "--tls-cert", self.T + "/pki/server.crt", "--tls-key",
                        self.T + "/pki/server.key", "--require-starttls", "--auth",
                        "tomslink@example.org:" + self.smtp_password, "--lifetime", str(lifetime)],
                       stdout=subprocess.DEVNULL, stderr=open(self.T + "/smtp.stderr", "w"))
        self.smtp_port = self._port(self.T + "/smtp.port", p, "the SMTP server")
        return self.smtp_port

    # ---- configuration ----------------------------------------------------------------

    def config(self, links, probe="", alerts="", email=True, paths="", extra="", state=None):
        """links: list of (name, url) or (name, url, extra YAML lines)."""
        s = "timezone: %s\n" % getattr(self, "timezone", "America/Los_Angeles")
        s += "paths:\n  state_directory: %s\n  runtime_directory: %s/run\n%s" % (state or self.T + "/state", self.T, paths)
        s += "probe:\n  interval: 1s\n  timeout: 3s\n  connect_timeout: 2s\n  failures_before_alert: 2\n"
        s += "  ca_file: %s/pki/ca.crt\n%s" % (self.T, probe)
        s += "alerts:\n  repeat: 1h\n%s" % alerts
        if email:
            s += """email:
  smtp_url: smtp://127.0.0.1:{p}/tomslink.test
  starttls: required
  username: tomslink@example.org
  password_file: {T}/smtp-password
  from: "TOMS link monitor <tomslink@example.org>"
  to: [it-alerts@example.org]
  ca_file: {T}/pki/ca.crt
""".format(p=self.smtp_port, T=self.T)
        s += extra
        s += "links:\n"
        for link in links:
            s += "  - name: %s\n    url: %s\n" % (link[0], link[1])
            if len(link) > 2:
                s += link[2]
        with open(self.T + "/tomslink.yaml.tmp", "w") as f:
            f.write(s)
        os.rename(self.T + "/tomslink.yaml.tmp", self.T + "/tomslink.yaml")

    # ---- the daemon -------------------------------------------------------------------

    def _notify_setup(self):
        self.notify_path = self.T + "/notify.sock"
        self.nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.nsock.bind(self.notify_path)
        self.nsock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

        def reader():
            while True:
                try:
                    msg = self.nsock.recv(4096).decode()
                except OSError:
                    return
                self.notes.append((time.monotonic(), msg))
                hook = getattr(self, "notify_hook", None)
                if hook:
                    hook(msg)

        threading.Thread(target=reader, daemon=True).start()

    def noted(self, key, since=0):
        return [m for t, m in self.notes if t >= since and any(l.startswith(key) for l in m.split("\n"))]

    def daemon_env(self, journal=True, extra=None):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LC_ALL="C")
        for k in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID",
                  "WATCHDOG_USEC", "INVOCATION_ID", "JOURNAL_STREAM"):
            env.pop(k, None)
        if journal:
            # the daemon's own messages go to the (private) journal, as under systemd
            env["INVOCATION_ID"] = os.urandom(16).hex()
        if self.sanitized():
            # AddressSanitizer holds freed blocks back (256 MB by default):
            # a small quarantine keeps the memory figures about the daemon
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1").lstrip(":")
        env.update(extra or {})
        return env

    def start_daemon(self, wait=True, env=None, timeout=20):
        since = time.monotonic()
        self.daemon_err = open(self.T + "/daemon.stderr", "a")
        self.daemon = self.start([self.tomslinkd, "--config", self.T + "/tomslink.yaml"], env=env or self.daemon_env(),
                                 stdout=self.daemon_err, stderr=self.daemon_err)
        if wait:
            if not wait_for(lambda: self.noted("READY=1", since) or self.daemon.poll() is not None, timeout) \
                    or self.daemon.poll() is not None:
                return False
        return True

    def stop_daemon(self, sig=signal.SIGTERM, timeout=15):
        if not self.daemon or self.daemon.poll() is not None:
            return self.daemon.returncode if self.daemon else None
        self.daemon.send_signal(sig)
        try:
            return self.daemon.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            return self.daemon.wait()

    def daemon_stderr(self):
        try:
            return open(self.T + "/daemon.stderr").read()
        except OSError:
            return ""

    def proc_status(self, key, pid=None):
        """VmRSS, VmHWM, ... of the daemon in kB."""
        try:
            for line in open("/proc/%d/status" % (pid or self.daemon.pid)):
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def fd_count(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.daemon.pid))
        except OSError:
            return None

    def unix_fds(self):
        """The daemon's UNIX sockets: the control socket and its clients, the
        notify and journal sockets (not libcurl's cached connections)."""
        unix = set()
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                unix.add(line.split()[6])
        out = {}
        try:
            for fd in os.listdir("/proc/%d/fd" % self.daemon.pid):
                try:
                    target = os.readlink("/proc/%d/fd/%s" % (self.daemon.pid, fd))
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in unix:
                    out[fd] = target
        except OSError:
            pass
        return out

    def sanitized(self):
        """Whether tomslinkd is a sanitizer build."""
        if not hasattr(self, "_sanitized"):
            p = subprocess.run(["ldd", self.tomslinkd], capture_output=True, text=True)
            self._sanitized = "libasan" in p.stdout
        return self._sanitized

    # ---- tomslinkctl -------------------------------------------------------------------

    def ctl(self, *args, stdin=None, timeout=60):
        cmd = [self.ctl_path, "--socket", self.socket_path] + list(args)
        try:
            return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                                  env=dict(os.environ, NO_COLOR="1", LC_ALL="C"))
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, 124, e.stdout or "", "timed out")

    def status(self):
        p = self.ctl("status", "--json")
        if p.returncode != 0:
            return {}
        return {l["name"]: l for l in json.loads(p.stdout)["links"]}

    def set_credential(self, link, username, secret_, generated=None):
        args = ["credential", "set", link, "--username", username]
        if generated:
            args += ["--generated", generated]
        return self.ctl(*args, stdin=secret_ + "\n")

    # ---- the journal, the mail ----------------------------------------------------------

    def journal(self, all_pids=False, **match):
        subprocess.run(["journalctl", "--sync"], capture_output=True)
        if not all_pids and self.daemon:
            match.setdefault("_PID", str(self.daemon.pid))
        args = ["journalctl", "-o", "json", "--no-pager"] + ["%s=%s" % kv for kv in match.items()]
        p = subprocess.run(args, capture_output=True, text=True)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def daemon_log(self, min_priority=7, all_pids=True):
        """The daemon's own log entries (not alerts), from the journal."""
        entries = self.journal(all_pids=all_pids, SYSLOG_IDENTIFIER="tomslinkd")
        return [e for e in entries if "MESSAGE_ID" not in e and int(e.get("PRIORITY", "6")) <= min_priority]

    def mails(self):
        out = []
        for path in sorted(glob.glob(self.T + "/mail/*.eml")):
            with open(path, "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    def find_mails(self, link, alert):
        return [m for m in self.mails() if m["X-Tomslink-Link"] == link and m["X-Tomslink-Alert"] == alert]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


def sqlite(path, sql):
    p = subprocess.run(["sqlite3", path, sql], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else "error: " + p.stderr.strip()
