#!/usr/bin/python3
"""The metrics file of the real tomslinkd, end to end, with real tools.

tomslinkd probes a real HTTPS endpoint (scripts/toms-demo-endpoint) for
three links - healthy, refused (a wrong secret: 401) and expiring (5 days
left) - set with tomslinkctl, and writes metrics.textfile. Checks:

- a directory that is missing at start: one clear error, the daemon runs,
  the file comes once the directory exists;
- the values (link_up, days left, expiry, probes_total increasing, states,
  open problems, alerts, last write time), HELP and TYPE for every family,
  mode 0644; `promtool check metrics` accepts the file;
- a real prometheus-node-exporter with only the textfile collector on
  127.0.0.1 serves it: node_textfile_scrape_error 0 and the tomslink_
  series;
- atomic replacement: a reader never sees a partial file while the daemon
  rewrites it many times, and inotify shows every new version arriving by
  rename, never written in place;
- a read-only directory: one clear error, the daemon goes on probing, and
  writes again once the directory is writable;
- a reload to another path removes the old file; without changes the file
  is still rewritten every 30 seconds;
- SIGTERM leaves the last file in place.

Runs in a private mount namespace (metrics-e2e.sh) for the read-only bind
mount. Usage: metrics-e2e.py BUILD_DIR SOURCE_DIR. Output: TAP."""
import base64, ctypes, json, os, re, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time
from datetime import datetime

BUILD, SRC = sys.argv[1], sys.argv[2]
TOMSLINKD = os.path.join(BUILD, "daemon", "tomslinkd")
CTL = os.path.join(BUILD, "daemon", "ctl", "tomslinkctl")
PY = "/usr/bin/python3"
PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")

sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from tap import Tap, wait_for  # noqa: E402

tap = Tap()
ok, skip = tap.ok, tap.skip

T = tempfile.mkdtemp(prefix="tomslink-metrics-")
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
    subprocess.run(["umount", T + "/textfile"], capture_output=True)
    subprocess.run(["rm", "-rf", T])


def bail(why):
    print("Bail out! " + why, flush=True)
    cleanup()
    sys.exit(1)


# ---- the endpoint -------------------------------------------------------------------

subprocess.run(["sh", os.path.join(SRC, "tests", "lib", "mkpki.sh"), T + "/pki"], check=True, stdout=subprocess.DEVNULL)
SECRETS = {name: "Mx5-%s-%s" % (name, base64.b32encode(os.urandom(10)).decode()) for name in ("good", "refused", "expiring")}
endpoint = {"/api/ping/%s" % k: {"user": "sis-" + k, "secret": v} for k, v in SECRETS.items()}
endpoint["/api/ping/refused"]["secret"] = "regenerated-in-toms"     # the stored copy is stale: 401
with open(T + "/endpoint.json", "w") as f:
    json.dump(endpoint, f)
start([PY, os.path.join(SRC, "scripts", "toms-demo-endpoint"), "--cert", T + "/pki/server.crt", "--key",
       T + "/pki/server.key", "--credentials", T + "/endpoint.json", "--port-file", T + "/endpoint.port",
       "--lifetime", "600"])
if not wait_for(lambda: os.path.exists(T + "/endpoint.port"), 15):
    bail("the endpoint did not start")
HTTPS_PORT = int(open(T + "/endpoint.port").read())

TEXTFILE_DIR = T + "/textfile"
PROM = TEXTFILE_DIR + "/tomslink.prom"


def config(links, textfile, interval="1s"):
    s = """timezone: America/Los_Angeles
paths:
  state_directory: {T}/state
  runtime_directory: {T}/run
probe:
  interval: {interval}
  timeout: 3s
  connect_timeout: 2s
  failures_before_alert: 2
  ca_file: {T}/pki/ca.crt
metrics:
  textfile: {textfile}
links:
""".format(T=T, textfile=textfile, interval=interval)
    for name in links:
        s += "  - name: %s\n    url: https://localhost:%d/api/ping/%s\n" % (name, HTTPS_PORT, name)
    with open(T + "/tomslink.yaml", "w") as f:
        f.write(s)


# ---- a missing directory at start ------------------------------------------------------

config(["good", "refused", "expiring"], PROM)
SOCKET = T + "/run/control.sock"
env = dict(os.environ, LC_ALL="C")
for k in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET",
          "INVOCATION_ID", "JOURNAL_STREAM", "WATCHDOG_USEC"):
    env.pop(k, None)
daemon_err = open(T + "/daemon.stderr", "w")
t_start = time.time()
daemon = start([TOMSLINKD, "--config", T + "/tomslink.yaml", "--debug"], env=env, stdout=daemon_err, stderr=daemon_err)


def stderr_lines(pattern):
    with open(T + "/daemon.stderr") as f:
        return [l for l in f if re.search(pattern, l)]


def ctl(*args, stdin=None):
    return subprocess.run([CTL, "--socket", SOCKET] + list(args), input=stdin, capture_output=True, text=True,
                          timeout=30, env=dict(env, NO_COLOR="1"))


def status():
    p = ctl("status", "--json")
    return {l["name"]: l for l in json.loads(p.stdout)["links"]} if p.returncode == 0 else {}


if not wait_for(lambda: os.path.exists(SOCKET), 10):
    bail("tomslinkd did not start: " + open(T + "/daemon.stderr").read())
for name, secret in SECRETS.items():
    generated = []
    if name == "expiring":
        generated = ["--generated", time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 360 * 86400))]
    secret = SECRETS[name] if name != "refused" else "the-old-copy-in-the-sis"
    p = ctl("credential", "set", name, "--username", "sis-" + name, *generated, stdin=secret + "\n")
    ok(p.returncode == 0, "credential set %s" % name, p.stdout + p.stderr)

time.sleep(4)   # several probes, each a change that asks for a write: tries at about 0, 1, 3 s
errors = stderr_lines(r"error: Cannot write the metrics file")
retries = stderr_lines(r"debug: Metrics file .*: still failing")
ok(len(errors) == 1 and PROM in errors[0] and "No such file or directory" in errors[0] and len(retries) >= 1,
   "a missing directory: logged once, with the path and the reason (%d more tries at debug level)" % len(retries),
   open(T + "/daemon.stderr").read()[-3000:])
ok(daemon.poll() is None and len(status()) == 3, "... and the daemon goes on")
os.mkdir(TEXTFILE_DIR)
ok(wait_for(lambda: os.path.exists(PROM), 35), "the file is written once the directory exists")
ok(wait_for(lambda: stderr_lines(r"Metrics file .* written again"), 5), "... and that is logged",
   open(T + "/daemon.stderr").read())


# ---- the values ------------------------------------------------------------------------

def parse(text):
    """{(name, frozenset(labels)): value}, {family: type}, {family: help}"""
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, h = line[7:].partition(" ")
            helps[name] = h
        elif line.startswith("# TYPE "):
            name, _, t = line[7:].partition(" ")
            types[name] = t
        elif line:
            m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
            if not m:
                raise ValueError("bad line: " + line)
            labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types, helps


def metrics():
    try:
        with open(PROM) as f:
            return parse(f.read())[0]
    except (OSError, ValueError):
        return {}


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


def settled():
    s = metrics()
    return s if (value(s, "tomslink_link_up", link="good") == 1 and value(s, "tomslink_link_up", link="refused") == 0
                 and value(s, "tomslink_link_state", link="refused", state="auth-rejected") == 1
                 and value(s, "tomslink_link_state", link="expiring", state="expiring") == 1) else None


s = wait_for(settled, 20)
ok(s, "link_up 1 for the good link, 0 for the refused one; states auth-rejected and expiring", metrics())
s = s or metrics()
st = status()
ok(value(s, "tomslink_credential_calendar_day_left", link="expiring") == 5 == st["expiring"]["days_left"],
   "days left of the expiring link: 5, as tomslinkctl status says", (value(s, "tomslink_credential_calendar_day_left", link="expiring"), st.get("expiring")))
exp = datetime.fromisoformat(st["good"]["expires"]).timestamp()
ok(abs(value(s, "tomslink_credential_expiry_timestamp_seconds", link="good") - exp) < 1,
   "expiry timestamp as tomslinkctl status says", (value(s, "tomslink_credential_expiry_timestamp_seconds", link="good"), exp))
ok(value(s, "tomslink_credential_calendar_day_left", link="good") in (364, 365), "days left of a new credential: 364 or 365")
ok(value(s, "tomslink_open_problems", link="refused", kind="auth-rejected") == 1
   and value(s, "tomslink_open_problems", link="good", kind="auth-rejected") == 0
   and value(s, "tomslink_open_problems", link="good", kind="link-down") == 0, "open problems")
ok(value(s, "tomslink_last_probe_http_status", link="refused") == 401
   and value(s, "tomslink_last_probe_http_status", link="good") == 200, "HTTP status of the last probes")
total = value(s, "tomslink_last_probe_duration_seconds", link="good", phase="total")
fb = value(s, "tomslink_last_probe_duration_seconds", link="good", phase="first_byte")
ok(total and fb and 0 < fb <= total < 3, "probe duration by phase, in seconds", (fb, total))
ok(value(s, "tomslink_alerts_total", kind="credential-expiring") >= 1
   and value(s, "tomslink_alerts_total", kind="auth-rejected") >= 1, "alerts raised are counted")
ok(sum(v for (name, _), v in s.items() if name == "tomslink_links") == 3
   and value(s, "tomslink_links", state="ok") == 1, "links by state: 3 in all, 1 ok")
ok(value(s, "tomslink_mail_outbox_messages", state="pending") == 0, "the outbox is counted (empty: no e-mail)")
ok(abs(value(s, "tomslink_metrics_last_write_timestamp_seconds") - time.time()) < 5
   and abs(value(s, "tomslink_daemon_start_time_seconds") - t_start) < 5, "last write and start time are the wall clock")
ok(os.stat(PROM).st_mode & 0o7777 == 0o644, "the file is 0644 (node_exporter runs as another user)",
   oct(os.stat(PROM).st_mode))

p1 = value(s, "tomslink_probes_total", **{"link": "good", "class": "ok"})
a1 = value(s, "tomslink_probes_total", **{"link": "refused", "class": "auth"})
s2 = wait_for(lambda: (lambda x: x if (value(x, "tomslink_probes_total", **{"link": "good", "class": "ok"}) or 0) >= p1 + 2 else None)(metrics()), 10)
ok(p1 >= 1 and s2 and value(s2, "tomslink_probes_total", **{"link": "refused", "class": "auth"}) > a1
   and value(s2, "tomslink_probes_total", **{"link": "good", "class": "auth"}) == 0,
   "probes_total increases by link and class", (p1, a1, s2 and value(s2, "tomslink_probes_total", **{"link": "good", "class": "ok"})))

text = open(PROM).read()
samples, types, helps = parse(text)
families = {name for name, _ in samples}
ok(families and all(f in types and f in helps and helps[f] for f in families), "HELP and TYPE for every metric",
   sorted(families - set(types)))
ok(all(types[f] == "counter" for f in families if f.endswith("_total"))
   and all(types[f] == "gauge" for f in families if not f.endswith("_total")), "counters end in _total, the rest are gauges")
if PROMTOOL:
    # Exit 3 is "lint problems", 1 a parse error: the file must be clean.
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
    ok(p.returncode == 0 and not (p.stdout + p.stderr).strip(), "promtool check metrics: no parse or lint problem",
       p.stdout + p.stderr)
else:
    skip("promtool check metrics", "promtool not installed (apt-get install prometheus)")


# ---- node_exporter ---------------------------------------------------------------------

def free_port():
    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        return s_.getsockname()[1]


def scrape(port):
    p = subprocess.run(["curl", "-sf", "--max-time", "5", "http://127.0.0.1:%d/metrics" % port], capture_output=True,
                       text=True)
    return p.stdout if p.returncode == 0 else None


if NODE_EXPORTER:
    body = None
    for attempt in range(5):
        port = free_port()
        ne = start([NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
                    "--collector.textfile.directory=" + TEXTFILE_DIR, "--web.listen-address=127.0.0.1:%d" % port],
                   stdout=subprocess.DEVNULL, stderr=open(T + "/node-exporter.stderr", "w"))
        body = wait_for(lambda: ne.poll() is None and scrape(port), 10, 0.2)
        if body or ne.poll() is None:
            break
    ok(body and re.search(r"^node_textfile_scrape_error 0$", body, re.M), "node_exporter: node_textfile_scrape_error 0",
       (body or "")[-2000:] + open(T + "/node-exporter.stderr").read())
    ok(body and re.search(r'^tomslink_link_up\{link="good"\} 1$', body, re.M)
       and re.search(r'^tomslink_probes_total\{class="auth",link="refused"\} [1-9]', body, re.M)
       and re.search(r'^tomslink_metrics_last_write_timestamp_seconds ', body, re.M)
       and re.search(r'^node_textfile_mtime_seconds\{file="[^"]*tomslink.prom"\}', body, re.M),
       "node_exporter serves the tomslink_ series", (body or "")[-2000:])
    ne.terminate()
    ne.wait()
else:
    skip("node_exporter scrape", "prometheus-node-exporter not installed")
    skip("node_exporter series", "prometheus-node-exporter not installed")


# ---- atomic replacement ----------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100
ifd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
wd = libc.inotify_add_watch(ifd, TEXTFILE_DIR.encode(), IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
events = []


def drain():
    while True:
        try:
            buf = os.read(ifd, 65536)
        except BlockingIOError:
            return
        i = 0
        while i < len(buf):
            _, mask, _, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
            events.append((mask, name))
            i += 16 + ln


END = re.compile(r'tomslink_probes_total\{link="refused",class="http"\} \d+\n\Z')
reads = {"n": 0, "bad": [], "inodes": set()}
stop = threading.Event()


def reader():
    while not stop.is_set():
        try:
            with open(PROM, "rb") as f:
                data = f.read()
                ino = os.fstat(f.fileno()).st_ino
        except FileNotFoundError as e:
            reads["bad"].append("missing: %s" % e)
            continue
        reads["n"] += 1
        reads["inodes"].add(ino)
        t = data.decode(errors="replace")
        if not (t.startswith("# HELP tomslink_build_info ") and END.search(t)):
            reads["bad"].append("%d bytes: ...%r" % (len(data), t[-80:]))


threads = [threading.Thread(target=reader) for _ in range(2)]
for th in threads:
    th.start()
time.sleep(15)
stop.set()
for th in threads:
    th.join()
drain()
renamed = sum(1 for mask, name in events if mask & IN_MOVED_TO and name == "tomslink.prom")
in_place = [(hex(mask), name) for mask, name in events if mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE) and name == "tomslink.prom"]
ok(not reads["bad"] and reads["n"] > 100 and len(reads["inodes"]) >= 8,
   "readers never see a partial file: %d reads of %d versions in 15 s" % (reads["n"], len(reads["inodes"])), reads["bad"][:5])
ok(renamed >= 8 and not in_place, "every version arrives by rename (%d), none written in place" % renamed, in_place[:5])
ok(renamed <= 16, "changes are coalesced: at most about one write a second (%d in 15 s)" % renamed)
leftovers = [f for f in os.listdir(TEXTFILE_DIR) if f != "tomslink.prom"]
ok(not leftovers, "no temporary file left behind", leftovers)


# ---- a read-only directory ---------------------------------------------------------------

ro = subprocess.run(["mount", "--bind", TEXTFILE_DIR, TEXTFILE_DIR], capture_output=True, text=True)
if ro.returncode == 0:
    ro = subprocess.run(["mount", "-o", "remount,bind,ro", TEXTFILE_DIR], capture_output=True, text=True)
if ro.returncode == 0:
    before = len(stderr_lines(r"error: Cannot write the metrics file"))
    retries_before = len(stderr_lines(r"debug: Metrics file .*: still failing"))
    probes_before = status()["good"]["last_probe"]["time"]
    time.sleep(4)   # tries at about 0, 1, 3 s
    errors = stderr_lines(r"error: Cannot write the metrics file")[before:]
    retries = len(stderr_lines(r"debug: Metrics file .*: still failing")) - retries_before
    ok(len(errors) == 1 and "Read-only file system" in errors[0] and retries >= 1,
       "a read-only directory: logged once, with the reason (%d more tries at debug level)" % retries,
       open(T + "/daemon.stderr").read()[-3000:])
    st = status()
    ok(daemon.poll() is None and st and st["good"]["state"] == "ok" and st["good"]["last_probe"].get("time") != probes_before,
       "... and the daemon goes on probing", st.get("good"))
    subprocess.run(["umount", TEXTFILE_DIR], check=True)
    again = len(stderr_lines(r"Metrics file .* written again"))
    ok(wait_for(lambda: len(stderr_lines(r"Metrics file .* written again")) > again, 10)
       and abs(value(metrics(), "tomslink_metrics_last_write_timestamp_seconds") - time.time()) < 3,
       "written again once the directory is writable")
else:
    for what in ("a read-only directory: logged once", "... and the daemon goes on probing", "written again"):
        skip(what, "no bind mount here: " + ro.stderr.strip())


# ---- reload to another path; the refresh ---------------------------------------------------

PROM2 = TEXTFILE_DIR + "/tomslink-2.prom"
config(["spare"], PROM2)
p = ctl("reload")
ok(p.returncode == 0, "reload with another metrics.textfile", p.stdout + p.stderr)
ok(wait_for(lambda: os.path.exists(PROM2) and not os.path.exists(PROM), 5), "the old file is removed, the new one written",
   os.listdir(TEXTFILE_DIR))


def last_write():
    try:
        s_ = parse(open(PROM2).read())[0]
    except (OSError, ValueError):
        return None
    return value(s_, "tomslink_metrics_last_write_timestamp_seconds")


time.sleep(1.5)                 # let the writes of the reload settle
w0 = last_write()
drain()
events.clear()
w1 = wait_for(lambda: (lambda w: w if w and w != w0 else None)(last_write()), 45, 0.2)
drain()
renamed = sum(1 for mask, name in events if mask & IN_MOVED_TO and name == "tomslink-2.prom")
ok(w0 and w1 and 28 <= w1 - w0 <= 33 and renamed == 1,
   "without a change the file is rewritten every 30 s (%.1f s)" % ((w1 or 0) - (w0 or 0)), (w0, w1, renamed))
s = parse(open(PROM2).read())[0]
ok(value(s, "tomslink_link_state", link="spare", state="unconfigured") == 1
   and not any(name == "tomslink_link_up" for name, _ in s), "an unconfigured link: state, and no link_up")

# ---- SIGTERM ------------------------------------------------------------------------------

daemon.send_signal(signal.SIGTERM)
try:
    rc = daemon.wait(timeout=10)
except subprocess.TimeoutExpired:
    rc = None
ok(rc == 0 and os.path.exists(PROM2), "SIGTERM: exit 0, the last file stays (its write time then ages)", rc)

rc = tap.done()
cleanup()
sys.exit(rc)
