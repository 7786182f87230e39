#!/usr/bin/python3
"""End to end: the real tomslinkd and tomslinkctl with a real HTTPS endpoint
(scripts/toms-demo-endpoint), a real SMTP server (aiosmtpd, STARTTLS and
AUTH) and a real systemd-journald (this runs inside tests/lib/with-journald.sh).

Three links: one healthy, one whose credential expires in 5 days, one whose
credential TOMS "regenerates" mid-test so that the endpoint answers 401.
Checks status --json, the e-mails, the journal, credential rotate and
link-recovered; READY=1/STATUS=/WATCHDOG=1/RELOADING=1/STOPPING=1 on a test
NOTIFY_SOCKET; reload with a bad and a good file and by SIGHUP; access
rules for an outsider and a member of group tomslink; restarts with the
expiry thresholds changed in between; that no secret shows
anywhere; 10,000 malformed messages on the control socket; SIGTERM.

Usage: daemon-e2e.py BUILD_DIR SOURCE_DIR. Output: TAP."""
import base64, email, email.policy, glob, json, os, random, signal, socket, subprocess, sys, tempfile, threading, time

BUILD, SRC = sys.argv[1], sys.argv[2]
TOMSLINKD = os.path.join(BUILD, "daemon", "tomslinkd")
CTL = os.path.join(BUILD, "daemon", "ctl", "tomslinkctl")
PY = "/usr/bin/python3"
IDS = {}
for line in open(os.path.join(SRC, "lib", "alert.h")):
    if line.startswith("#define ALERT_MESSAGE_ID_"):
        name, value = line.split()[1:3]
        IDS[name[len("ALERT_MESSAGE_ID_"):].lower().replace("_", "-")] = value.strip('"')

sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from tap import Tap, wait_for  # noqa: E402

tap = Tap()
ok, skip = tap.ok, tap.skip

# ---- scratch, PKI, servers --------------------------------------------------------

T = tempfile.mkdtemp(prefix="tomslink-e2e-")
os.chmod(T, 0o755)   # an unprivileged client must reach the socket below it
procs = []


def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", T])


subprocess.run(["sh", os.path.join(SRC, "tests", "lib", "mkpki.sh"), T + "/pki"], check=True, stdout=subprocess.DEVNULL)
SECRETS = {
    "healthy": "Hx7-healthy-" + base64.b32encode(os.urandom(15)).decode(),
    "expiring": "Ex9-expiring-" + base64.b32encode(os.urandom(15)).decode(),
    "regen": "Rg3-regen-" + base64.b32encode(os.urandom(15)).decode(),
}
NEW_REGEN = "Rg4-regenerated-" + base64.b32encode(os.urandom(15)).decode()
SMTP_PASSWORD = "Sm2-relay-" + base64.b32encode(os.urandom(10)).decode()
ALL_SECRETS = list(SECRETS.values()) + [NEW_REGEN, SMTP_PASSWORD]


def write_endpoint_credentials(regen_secret):
    creds = {"/api/ping/%s" % k: {"user": "sis-" + k, "secret": v} for k, v in SECRETS.items()}
    creds["/api/ping/regen"]["secret"] = regen_secret
    creds["/api/ping/late"] = {"status": 200}
    creds["/api/ping/later"] = {"status": 200}
    with open(T + "/endpoint.json.tmp", "w") as f:
        json.dump(creds, f)
    os.rename(T + "/endpoint.json.tmp", T + "/endpoint.json")


write_endpoint_credentials(SECRETS["regen"])
start([PY, os.path.join(SRC, "scripts", "toms-demo-endpoint"), "--cert", T + "/pki/server.crt", "--key",
       T + "/pki/server.key", "--credentials", T + "/endpoint.json", "--port-file", T + "/endpoint.port",
       "--lifetime", "300"])
start([PY, os.path.join(SRC, "tests", "lib", "smtp_sink.py"), "--outdir", T + "/mail", "--port-file", T + "/smtp.port",
       "--tls-cert", T + "/pki/server.crt", "--tls-key", T + "/pki/server.key", "--require-starttls",
       "--auth", "tomslink@example.org:" + SMTP_PASSWORD, "--lifetime", "300"], stdout=subprocess.DEVNULL,
      stderr=open(T + "/smtp.stderr", "w"))
if not wait_for(lambda: os.path.exists(T + "/endpoint.port") and os.path.exists(T + "/smtp.port"), 15):
    print("Bail out! test servers did not start")
    cleanup()
    sys.exit(1)
HTTPS_PORT = int(open(T + "/endpoint.port").read())
SMTP_PORT = int(open(T + "/smtp.port").read())
with open(T + "/smtp-password", "w") as f:
    f.write(SMTP_PASSWORD + "\n")
os.chmod(T + "/smtp-password", 0o600)

# group tomslink exists only in this mount namespace
TOMSLINK_GID = 43217
with open(T + "/group", "w") as f:
    f.write(open("/etc/group").read() + "tomslink:x:%d:\n" % TOMSLINK_GID)
subprocess.run(["mount", "--bind", T + "/group", "/etc/group"], check=True)


def config(links, extra=""):
    s = """timezone: America/Los_Angeles
paths:
  state_directory: {T}/state
  runtime_directory: {T}/run
probe:
  interval: 1s
  timeout: 3s
  connect_timeout: 2s
  failures_before_alert: 2
  ca_file: {T}/pki/ca.crt
alerts:
  repeat: 1h
email:
  smtp_url: smtp://127.0.0.1:{smtp}/tomslink.test
  starttls: required
  username: tomslink@example.org
  password_file: {T}/smtp-password
  from: "TOMS link monitor <tomslink@example.org>"
  to: [it-alerts@example.org]
  ca_file: {T}/pki/ca.crt
links:
""".format(T=T, smtp=SMTP_PORT)
    for name in links:
        s += "  - name: %s\n    url: https://localhost:%d/api/ping/%s\n" % (name, HTTPS_PORT, name)
        if name == "regen":
            s += "    consumers: [student information system, parent portal]\n"
    with open(T + "/tomslink.yaml", "w") as f:
        f.write(s + extra)


config(["healthy", "expiring", "regen"])

# ---- the notify socket ------------------------------------------------------------

notify_path = T + "/notify.sock"
nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
nsock.bind(notify_path)
nsock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
notes = []


def notify_reader():
    while True:
        try:
            msg = nsock.recv(4096).decode()
        except OSError:
            return
        notes.append((time.monotonic(), msg))


threading.Thread(target=notify_reader, daemon=True).start()


def noted(key, since=0):
    return [m for t, m in notes if t >= since and any(l.startswith(key) for l in m.split("\n"))]


# ---- the daemon --------------------------------------------------------------------

SOCKET = T + "/run/control.sock"
env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="2000000", LC_ALL="C")
for k in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID"):
    env.pop(k, None)
daemon_err = open(T + "/daemon.stderr", "w")
t0 = time.monotonic()
daemon = start([TOMSLINKD, "--config", T + "/tomslink.yaml"], env=env, stdout=daemon_err, stderr=daemon_err)
ok(wait_for(lambda: noted("READY=1"), 10), "READY=1 once the store is open and the socket listens",
   open(T + "/daemon.stderr").read())
ok(os.path.exists(SOCKET), "the control socket exists after READY=1")
ok(wait_for(lambda: len(noted("WATCHDOG=1")) >= 2, 5), "WATCHDOG=1 sent from the loop (WATCHDOG_USEC=2s)")
ok(any(l.startswith("STATUS=3 links") for _, m in notes for l in m.split("\n")), "STATUS= carries a summary",
   notes)

outputs = []   # everything printed by tomslinkctl, searched for secrets at the end


def ctl(*args, stdin=None, user=None, timeout=30):
    cmd = [CTL, "--socket", SOCKET] + list(args)
    if user:
        cmd = ["setpriv", "--reuid", str(user[0]), "--regid", str(user[1]), "--clear-groups"] + cmd
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=dict(env, NO_COLOR="1"))
    outputs.append(p.stdout + p.stderr)
    return p


def status():
    p = ctl("status", "--json")
    if p.returncode != 0:
        return {}
    return {l["name"]: l for l in json.loads(p.stdout)["links"]}


# credentials: the secret on standard input, never on the command line
cmdline_clean = True
for name, secret in SECRETS.items():
    generated = []
    if name == "expiring":
        t = time.time() - 360 * 86400
        generated = ["--generated", time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))]
    p = subprocess.Popen([CTL, "--socket", SOCKET, "credential", "set", name, "--username", "sis-" + name] + generated,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.05)
    try:
        cl = open("/proc/%d/cmdline" % p.pid, "rb").read().decode(errors="replace")
        cmdline_clean = cmdline_clean and all(s not in cl for s in ALL_SECRETS)
    except OSError:
        pass
    out, _ = p.communicate(secret + "\n", timeout=30)
    outputs.append(out)
    ok(p.returncode == 0, "credential set %s" % name, out)
ok(cmdline_clean, "no secret in /proc/PID/cmdline of tomslinkctl")
dcl = open("/proc/%d/cmdline" % daemon.pid, "rb").read().decode(errors="replace")
ok(all(s not in dcl for s in ALL_SECRETS), "no secret in /proc/PID/cmdline of tomslinkd")

st = wait_for(lambda: (lambda s: s if s.get("healthy", {}).get("state") == "ok"
                       and s.get("regen", {}).get("state") == "ok"
                       and s.get("expiring", {}).get("state") == "expiring" else None)(status()), 20)
ok(st, "status: healthy ok, regen ok, expiring expiring", status())
if st:
    e = st["expiring"]
    ok(e["days_left"] == 5 and "expiring" in e["problems"], "expiring: 5 days left", e)
    lp = st["healthy"]["last_probe"]
    ok(lp and lp["class"] == "ok" and lp["http_status"] == 200 and lp["error"] is None
       and all(k in lp["times_ms"] for k in ("dns", "connect", "tls", "total")), "last_probe of a healthy link", lp)
    ok(all(k in st["healthy"] for k in ("name", "state", "problems", "expires", "days_left", "last_probe")),
       "status --json carries the fields of SPEC")

# TOMS regenerates the credential: the copy in the SIS (and here) is now invalid
write_endpoint_credentials(NEW_REGEN)
st = wait_for(lambda: (lambda s: s if s.get("regen", {}).get("state") == "auth-rejected" else None)(status()), 15)
ok(st, "regen becomes auth-rejected after the endpoint starts answering 401", status())


def mails():
    out = []
    for path in sorted(glob.glob(T + "/mail/*.eml")):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        env_ = json.load(open(path[:-4] + ".json"))
        out.append((msg, env_))
    return out


def find_mail(link, phrase):
    for msg, env_ in mails():
        if msg["X-Tomslink-Link"] == link and phrase in str(msg["Subject"]):
            return msg, env_
    return None


m = wait_for(lambda: find_mail("expiring", "expires in 5 days"), 20)
ok(m, "e-mail: credential-expiring for the expiring link", [str(x[0]["Subject"]) for x in mails()])
if m:
    msg, env_ = m
    ok(msg["To"] == "it-alerts@example.org" and env_["rcpt_tos"] == ["it-alerts@example.org"], "sent to email.to", env_)
    ok(env_["tls"] and (env_.get("auth") or {}).get("user") == "tomslink@example.org", "over STARTTLS with AUTH", env_)
    ok(msg["X-Tomslink-Alert"] == "credential-expiring" and msg["Message-ID"], "alert headers")
m = wait_for(lambda: find_mail("regen", "rejected"), 20)
ok(m, "e-mail: auth-rejected for the regenerated link", [str(x[0]["Subject"]) for x in mails()])
if m:
    body = m[0].get_body(preferencelist=("plain",)).get_content()
    ok("regenerated" in body and "parent portal" in body and "tomslinkctl credential rotate" in body,
       "auth-rejected e-mail says regenerated, lists the consumers and the fix", body)
ok(not find_mail("healthy", ""), "no e-mail about the healthy link")


def journal(**match):
    subprocess.run(["journalctl", "--sync"], capture_output=True)
    match.setdefault("_PID", str(daemon.pid))
    args = ["journalctl", "-o", "json", "--no-pager"] + ["%s=%s" % kv for kv in match.items()]
    p = subprocess.run(args, capture_output=True, text=True)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


j = journal(MESSAGE_ID=IDS["credential-expiring"], TOMSLINK_LINK="expiring")
ok(len(j) == 1 and j[0].get("PRIORITY") == "4" and j[0].get("TOMSLINK_DAYS_LEFT") == "5"
   and j[0].get("TOMSLINK_ALERT") == "credential-expiring" and j[0].get("SYSLOG_IDENTIFIER") == "tomslinkd",
   "journal: one credential-expiring entry, priority warning, 5 days left", j)
j = journal(MESSAGE_ID=IDS["auth-rejected"], TOMSLINK_LINK="regen")
ok(len(j) == 1 and j[0].get("PRIORITY") == "3" and j[0].get("TOMSLINK_HTTP_STATUS") == "401"
   and j[0].get("TOMSLINK_FAILURE") == "auth", "journal: one auth-rejected entry, priority err, HTTP 401", j)

# the fix: rotate with the newly generated secret
p = ctl("credential", "rotate", "regen", "--username", "sis-regen", stdin=NEW_REGEN + "\n")
ok(p.returncode == 0 and "ok" in p.stdout and "student information system" in p.stdout,
   "credential rotate verifies with a probe and lists the consumers", p.stdout + p.stderr)
st = wait_for(lambda: (lambda s: s if s.get("regen", {}).get("state") == "ok" else None)(status()), 10)
ok(st, "regen is ok again after the rotation")
ok(wait_for(lambda: find_mail("regen", "recovered"), 20), "e-mail: link-recovered for regen")
j = journal(MESSAGE_ID=IDS["link-recovered"], TOMSLINK_LINK="regen")
ok(len(j) == 1 and j[0].get("PRIORITY") == "5", "journal: link-recovered at notice", j)
p = ctl("credential", "history", "regen")
ok(p.returncode == 0 and p.stdout.count("sis-regen") >= 2, "credential history shows both generations", p.stdout)

# ---- the other commands, against the real daemon ---------------------------------

p = ctl("probe", "healthy", "--json")
r = json.loads(p.stdout) if p.returncode == 0 else {}
ok(p.returncode == 0 and r.get("results") and r["results"][0]["result"]["class"] == "ok",
   "probe LINK: probes now and prints the result, exit 0", p.stdout + p.stderr)
p = ctl("probe", "--all")
ok(p.returncode == 0 and all(x in p.stdout for x in ("healthy", "expiring", "regen")), "probe --all", p.stdout + p.stderr)
p = ctl("silence", "expiring", "--for", "2h", "--reason", "vendor upgrade")
ok(p.returncode == 0 and status()["expiring"]["silenced_until"], "silence sets silenced_until", p.stdout + p.stderr)
p = ctl("alerts", "--json")
a = json.loads(p.stdout) if p.returncode == 0 else {}
ok(any(x["link"] == "expiring" and x["reason"] == "vendor upgrade" for x in a.get("silences", [])),
   "alerts lists the silence", a.get("silences"))
p = ctl("unsilence", "expiring")
ok(p.returncode == 0 and not status()["expiring"]["silenced_until"], "unsilence lifts it", p.stdout + p.stderr)
p = ctl("unsilence", "expiring")
ok(p.returncode == 1, "unsilence of a link that is not silenced fails", p.stdout + p.stderr)
p = ctl("check")
ok(p.returncode == 1 and p.stdout.startswith("TOMSLINK WARNING") and "|" in p.stdout.split("\n")[0],
   "check: WARNING (a link expiring) with performance data, exit 1", p.stdout)
p = ctl("test-email")
ok(p.returncode == 0, "test-email: the relay took the test message", p.stdout + p.stderr)
ok(wait_for(lambda: any("test" in str(msg["Subject"]).lower() and e_["rcpt_tos"] == ["it-alerts@example.org"]
                        for msg, e_ in mails()), 10), "the test message arrived, to email.to only")
p = ctl("show", "nosuchlink")
ok(p.returncode == 1 and "nosuchlink" in p.stderr, "show of an unknown link fails clearly", p.stdout + p.stderr)

# ---- restart: nothing re-sent, nothing forgotten ------------------------------------

def alert_entries():
    subprocess.run(["journalctl", "--sync"], capture_output=True)
    p_ = subprocess.run(["journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=tomslinkd"],
                        capture_output=True, text=True)
    return [json.loads(l) for l in p_.stdout.splitlines() if l.strip() and "TOMSLINK_ALERT" in l]


before_mail, before_journal = len(mails()), len(alert_entries())
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=10)
daemon = start([TOMSLINKD, "--config", T + "/tomslink.yaml"], env=env, stdout=daemon_err, stderr=daemon_err)
ok(wait_for(lambda: len(status()) == 3, 10), "the daemon restarts on the same state")
time.sleep(4)   # several probe intervals and ticks
s = status()
ok(s.get("expiring", {}).get("state") == "expiring" and s.get("regen", {}).get("state") == "ok",
   "states survive the restart", s)
new = [e.get("TOMSLINK_ALERT") + ":" + e.get("TOMSLINK_LINK", "") for e in alert_entries()[before_journal:]]
ok(not new, "a restart re-sends no alert (journal)", new)
ok(len(mails()) == before_mail, "a restart re-sends no alert (mail)", [str(m[0]["Subject"]) for m in mails()[before_mail:]])


# Thresholds changed between runs: 7 was sent (5 days left); with [5] the
# nearer 5 is due; with [6] nothing is, since 5 was sent; nor with the
# default list again. Each run starts from the ledger alone.
def restart_with(text):
    global daemon
    with open(T + "/tomslink.yaml", "w") as f:
        f.write(text)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=10)
    daemon = start([TOMSLINKD, "--config", T + "/tomslink.yaml"], env=env, stdout=daemon_err, stderr=daemon_err)
    return wait_for(lambda: len(status()) == 3, 10)


def expiring_alerts(since):
    return [(e.get("TOMSLINK_LINK"), e.get("TOMSLINK_THRESHOLD")) for e in alert_entries()[since:]
            if e.get("TOMSLINK_ALERT") == "credential-expiring"]


original = open(T + "/tomslink.yaml").read()
assert "alerts:\n  repeat: 1h\n" in original
before_journal = len(alert_entries())
ok(restart_with(original.replace("  repeat: 1h\n", "  repeat: 1h\n  expiry_warn_days: [5]\n")) and
   wait_for(lambda: expiring_alerts(before_journal), 10) and expiring_alerts(before_journal) == [("expiring", "5")],
   "a nearer threshold added between runs is sent once", expiring_alerts(before_journal))
before_journal = len(alert_entries())
ok(restart_with(original.replace("  repeat: 1h\n", "  repeat: 1h\n  expiry_warn_days: [6]\n")), "restart with [6]")
time.sleep(3)
ok(not expiring_alerts(before_journal), "a threshold farther than one sent is not sent", expiring_alerts(before_journal))
ok(restart_with(original), "restart with the default thresholds")
time.sleep(3)
ok(not expiring_alerts(before_journal), "... nor 7 again", expiring_alerts(before_journal))

# ---- access ------------------------------------------------------------------------

p = ctl("status", user=(65534, 65534))
ok(p.returncode != 0, "an outsider (uid 65534, not in group tomslink) is refused", p.stdout + p.stderr)
p = ctl("status", user=(65534, TOMSLINK_GID))
ok(p.returncode == 0 and "healthy" in p.stdout, "a member of group tomslink may read", p.stdout + p.stderr)
p = ctl("credential", "rotate", "healthy", "--username", "x", stdin="whatever\n", user=(65534, TOMSLINK_GID))
ok(p.returncode == 1 and "permission" in (p.stdout + p.stderr).lower(), "... but not rotate", p.stdout + p.stderr)
p = ctl("silence", "healthy", "--for", "1h", user=(65534, TOMSLINK_GID))
ok(p.returncode == 1, "... nor silence", p.stdout + p.stderr)
ok(status()["healthy"]["generation"] == st["healthy"]["generation"], "the refused rotation changed nothing")

# ---- reload ------------------------------------------------------------------------

since = time.monotonic()
good = open(T + "/tomslink.yaml").read()
with open(T + "/tomslink.yaml", "w") as f:
    f.write(good + "bogus_key: 1\n")
p = ctl("reload")
ok(p.returncode == 1 and "bogus_key: unknown key" in p.stdout + p.stderr, "a bad configuration is refused with its errors",
   p.stdout + p.stderr)
ok(len(status()) == 3, "the running configuration stays")
ok(noted("RELOADING=1", since) and noted("READY=1", since), "RELOADING=1 and READY=1 around the reload")
config(["healthy", "expiring", "regen", "late"])
p = ctl("reload")
ok(p.returncode == 0 and "4 links" in p.stdout, "a good configuration is applied", p.stdout + p.stderr)
s = status()
ok(set(s) == {"healthy", "expiring", "regen", "late"} and s["regen"]["state"] == "ok" and s["regen"]["generation"],
   "a link is added; the others keep their state", s)
config(["healthy", "regen", "late", "later"])
daemon.send_signal(signal.SIGHUP)
ok(wait_for(lambda: set(status()) == {"healthy", "regen", "late", "later"}, 10), "SIGHUP reloads: a link added, one removed",
   status())

# ---- robustness of the control socket -------------------------------------------------

rnd = random.Random(7)
valid = [b'{"v":1,"command":"status"}', b'{"v":1,"command":"show","link":"healthy"}']
kinds = [
    lambda: os.urandom(rnd.randrange(1, 300)),
    lambda: rnd.choice(valid)[:rnd.randrange(1, 20)],
    lambda: b'{"v":1,"command":"%s"}' % rnd.choice([b"nope", b"", b"status\x00", b"\xff\xfe"]),
    lambda: b'{"v":%d,"command":"status"}' % rnd.randrange(-5, 5),
    lambda: b'{"v":1,"command":"show","link":%s}' % rnd.choice([b"1", b"[]", b"{}", b'"../x"', b'"A B"', b"null"]),
    lambda: b'{"v":1,"command":"credential-set","link":"healthy","username":"x","secret_size":%d}' % rnd.randrange(-3, 1),
    lambda: b"[" * rnd.randrange(1, 400) + b"]" * rnd.randrange(0, 400),
    lambda: b'{"v":1,"command":"status","pad":"' + b"a" * rnd.randrange(60000, 70000) + b'"}',
    lambda: b'{"v":1,"command":"probe","all":"yes"}',
    lambda: b"",
]
answered = dropped = 0
sock = None
t_start = time.monotonic()
for i in range(10000):
    if sock is None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.settimeout(5)
        sock.connect(SOCKET)
    try:
        sock.send(rnd.choice(kinds)())
        if rnd.random() < 0.02:
            # a request that announces a secret, and then something as the secret
            sock.send(b'{"v":1,"command":"credential-set","link":"nosuchlink","username":"x","secret_size":%d}' % rnd.randrange(1, 40))
            sock.send(os.urandom(rnd.randrange(0, 60)))
            reply = sock.recv(1 << 20)
        reply = sock.recv(1 << 20)
        if reply:
            answered += 1
            # read the rest of a streamed reply
            while b'"more":true' in reply:
                reply = sock.recv(1 << 20)
        else:
            dropped += 1
            sock.close()
            sock = None
    except (OSError, socket.timeout):
        dropped += 1
        sock.close()
        sock = None
if sock:
    sock.close()
ok(answered + dropped == 10000 and daemon.poll() is None,
   "10,000 random and malformed messages: each answered (%d) or dropped (%d), daemon alive, %.1f s"
   % (answered, dropped, time.monotonic() - t_start))
ok(len(status()) == 4, "and still serves a valid request")

# ---- secrets ------------------------------------------------------------------------

for name in ("healthy", "regen", "late"):
    outputs.append(ctl("show", name).stdout)
    outputs.append(ctl("show", name, "--json").stdout)
outputs.append(ctl("alerts").stdout)
outputs.append(ctl("alerts", "--json").stdout)
outputs.append(ctl("status").stdout)
subprocess.run(["journalctl", "--sync"], capture_output=True)
journal_all = subprocess.run(["journalctl", "-o", "json", "--no-pager"], capture_output=True, text=True).stdout
mail_all = "".join(open(p, errors="replace").read() for p in glob.glob(T + "/mail/*"))
for label, text in (("tomslinkctl output", "\n".join(outputs)), ("the daemon's stderr", open(T + "/daemon.stderr").read()),
                    ("the journal", journal_all), ("the e-mails", mail_all)):
    leaked = [s for s in ALL_SECRETS if s in text or base64.b64encode(s.encode()).decode() in text]
    ok(not leaked, "no secret in %s" % label, leaked)

# ---- SIGTERM ------------------------------------------------------------------------

since = time.monotonic()
daemon.send_signal(signal.SIGTERM)
try:
    rc = daemon.wait(timeout=10)
except subprocess.TimeoutExpired:
    rc = None
took = time.monotonic() - since
ok(rc == 0 and took < 5, "SIGTERM: exit 0 within 5 s (%.2f s)" % took, rc)
ok(noted("STOPPING=1", since), "STOPPING=1 on SIGTERM")
ok(subprocess.run(["sqlite3", T + "/state/state.db", "PRAGMA integrity_check"], capture_output=True,
                  text=True).stdout.strip() == "ok", "the store is intact after the stop")

rc = tap.done()
cleanup()
sys.exit(rc)
