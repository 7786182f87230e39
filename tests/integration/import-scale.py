#!/usr/bin/python3
"""Bulk onboarding at scale: 10,000 credentials imported into the real
tomslinkd with one `tomslinkctl credential import` of a 0600 CSV file.

Checks the export-template header; that a file that others may read is
refused; that one bad row among 10,000 stores nothing and that every bad
row is reported with its line number, whether tomslinkctl finds it (a
malformed row) or the daemon does (a link that is not configured, a
generation time in the future); that the good file stores every
credential in one call; and that no secret shows in anything tomslinkctl
or tomslinkd printed. Runs where no journald listens
(tests/lib/without-journald.sh), so that everything the daemon logs is on
its standard error.

Usage: import-scale.py BUILD_DIR SOURCE_DIR. Output: TAP."""
import base64, json, os, re, secrets, shutil, socket, subprocess, sys, tempfile, time

BUILD, SRC = sys.argv[1], sys.argv[2]
TOMSLINKD = os.path.join(BUILD, "daemon", "tomslinkd")
CTL = os.path.join(BUILD, "daemon", "ctl", "tomslinkctl")
N = 10000

sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from tap import Tap  # noqa: E402

tap = Tap()
ok, skip = tap.ok, tap.skip

T = tempfile.mkdtemp(prefix="tomslink-import-")
daemon = None


def cleanup():
    if daemon and daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(T, ignore_errors=True)


# a port nothing listens on: the few probes due during the test fail fast
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()

with open(T + "/tomslink.yaml", "w") as f:
    f.write(f"""timezone: UTC
paths:
  state_directory: {T}/state
  runtime_directory: {T}/run
probe:
  interval: 15m
  timeout: 2s
  connect_timeout: 1s
links:
""")
    for i in range(N):
        f.write(f"  - name: school-{i:05d}\n    url: https://127.0.0.1:{port}/api/ping/{i}\n")

SECRETS = ["Sk-%05d-%s" % (i, secrets.token_urlsafe(18)) for i in range(N)]
SOCKET = T + "/run/control.sock"
outputs = []


def ctl(*args, timeout=60):
    p = subprocess.run([CTL, "--socket", SOCKET] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, NO_COLOR="1", LC_ALL="C"))
    outputs.append(p.stdout + p.stderr)
    return p


def write_csv(path, rows, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write("link,username,secret,generated\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    os.chmod(path, mode)


def good_rows():
    return [[f"school-{i:05d}", f"vendor-{i:05d}@sis.example", SECRETS[i], "2026-09-01" if i % 2 else ""]
            for i in range(N)]


def stored():
    """how many links have a credential, from status --json"""
    p = ctl("status", "--json")
    if p.returncode != 0:
        return None, p.stderr
    links = json.loads(p.stdout)["links"]
    return sum(1 for l in links if l.get("generation")), links


notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(T + "/notify.sock")
notify.settimeout(60)
env = dict(os.environ, NOTIFY_SOCKET=T + "/notify.sock")
for k in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID"):
    env.pop(k, None)
err = open(T + "/daemon.stderr", "w")
daemon = subprocess.Popen([TOMSLINKD, "--config", T + "/tomslink.yaml"], env=env, stdout=err, stderr=err)
try:
    while "READY=1" not in notify.recv(4096).decode():
        pass
    ready = True
except OSError:
    ready = False
if not ok(ready, "tomslinkd with %d links is ready" % N, open(T + "/daemon.stderr").read()):
    tap.done()
    cleanup()
    sys.exit(1)

p = ctl("credential", "export-template")
ok(p.returncode == 0 and p.stdout == "link,username,secret,generated\n", "export-template prints the CSV header",
   repr(p.stdout))

# a file others may read is refused before anything is sent
rows = good_rows()
write_csv(T + "/open.csv", rows, 0o644)
p = ctl("credential", "import", T + "/open.csv")
ok(p.returncode == 1 and "chmod 600" in p.stderr, "a file readable by others is refused", p.stdout + p.stderr)
os.unlink(T + "/open.csv")

# bad rows tomslinkctl finds: each reported with its line (the header is line 1)
bad = [r[:] for r in rows]
bad[1234][1] = ""                     # line 1236: no username
bad[5000][2] = " " + SECRETS[5000]    # line 5002: a secret with a space
bad[9998][3] = "yesterday"            # line 10000: not a time
write_csv(T + "/bad-file.csv", bad)
t0 = time.monotonic()
p = ctl("credential", "import", T + "/bad-file.csv")
took = time.monotonic() - t0
lines = [l for l in p.stderr.splitlines() if l.startswith(T + "/bad-file.csv:")]
ok(p.returncode == 1 and len(lines) == 3 and lines[0].startswith(T + "/bad-file.csv:1236: username")
   and lines[1].startswith(T + "/bad-file.csv:5002: secret") and lines[2].startswith(T + "/bad-file.csv:10000: generated")
   and "nothing was imported" in p.stderr,
   "malformed rows among 10,000: each reported with its line, nothing imported (%.2f s)" % took, p.stderr)
count, _ = stored()
ok(count == 0, "nothing stored after the refused file", count)

# bad rows the daemon finds: still all or nothing, each with its line
bad = [r[:] for r in rows]
bad[17][0] = "school-99999"           # line 19: not configured
bad[7777][3] = "2099-01-01"           # line 7779: in the future
write_csv(T + "/bad-daemon.csv", bad)
p = ctl("credential", "import", T + "/bad-daemon.csv")
ok(p.returncode == 1 and "line 19: no link named \"school-99999\"" in p.stderr
   and "line 7779: generated 2099-01-01 is in the future" in p.stderr and "2 of 10000 rows are invalid" in p.stderr
   and "nothing was imported" in p.stderr,
   "rows the daemon refuses: each reported with its line, nothing imported", p.stdout + p.stderr)
count, _ = stored()
ok(count == 0, "nothing stored after the refused import", count)

# the good file: every credential in one call
write_csv(T + "/good.csv", rows)
t0 = time.monotonic()
p = ctl("credential", "import", T + "/good.csv")
took = time.monotonic() - t0
ok(p.returncode == 0 and "10000" in p.stdout.replace(",", ""), "10,000 credentials imported in one call (%.2f s)" % took,
   p.stdout + p.stderr)
count, links = stored()
ok(count == N, "status --json shows a credential for every link", count)
if count == N:
    by_name = {l["name"]: l for l in links}
    ok(all(by_name[f"school-{i:05d}"]["username"] == f"vendor-{i:05d}@sis.example" for i in range(N)),
       "every link has its own username")
    ok(by_name["school-00001"]["generated"].startswith("2026-09-01"), "the generation time of a row is kept",
       by_name["school-00001"]["generated"])
p = ctl("credential", "history", "school-04321")
ok(p.returncode == 0 and "vendor-04321@sis.example" in p.stdout, "credential history of one imported link", p.stdout)

# a second import of the same file replaces every credential, in one call again
p = ctl("credential", "import", T + "/good.csv")
ok(p.returncode == 0, "importing the same file again works", p.stdout + p.stderr)
p = ctl("credential", "history", "school-04321")
ok(p.stdout.count("vendor-04321@sis.example") >= 2, "and is a new generation in the audit trail", p.stdout)

daemon.terminate()
try:
    daemon.wait(timeout=10)
except subprocess.TimeoutExpired:
    daemon.kill()
err.close()
# every secret starts "Sk-NNNNN-": any secret or part of one that shows
# has that shape; and no HTTP basic credential, as a header would carry it
SHAPE = re.compile(rb"Sk-\d{5}-")
everything = ("\n".join(outputs) + open(T + "/daemon.stderr").read()).encode()
basic = [base64.b64encode(f"vendor-{i:05d}@sis.example:{SECRETS[i]}".encode()) for i in range(0, N, 97)]
ok(not SHAPE.search(everything) and not any(b in everything for b in basic),
   "no secret in anything tomslinkctl or tomslinkd printed", SHAPE.findall(everything)[:5])
db = b"".join(open(T + "/state/" + f, "rb").read() for f in os.listdir(T + "/state") if f.startswith("state.db"))
ok(not SHAPE.search(db), "no secret in the clear in the state database")

rc = tap.done()
cleanup()
sys.exit(rc)
