#!/usr/bin/python3
"""Fault: the state directory's file system fills up while tomslinkd runs.

The state directory is a 3 MB tmpfs (this runs in a private mount
namespace). Once the daemon has two healthy links, the file system is
filled to the last byte and one link starts failing, so that alerts are
raised and probes recorded while nothing can be written. The daemon must
log the condition clearly and once (not once per probe), keep probing,
keep answering tomslinkctl, send the alert to the journal at once and by
e-mail once space returns, resume its state writes then, and lose nothing
it had acknowledged: after a restart the credentials are there and the
store is intact.

Usage: disk-full.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import errno, os, subprocess, sys, time
from faultlib import Env, Tap, secret, sqlite, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
tap = Tap()
env = Env(BUILD, SRC, "disk-full")
T = env.T
S = {k: secret(k) for k in ("healthy", "flaky", "late")}
table = {"/api/ping/%s" % k: {"user": "sis-" + k, "secret": v} for k, v in S.items()}
env.start_smtp()
port = env.start_endpoint(table)

state = T + "/state"
os.makedirs(state)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", state], check=True)
env.mounts = [state]

env.config([(k, "https://localhost:%d/api/ping/%s" % (port, k)) for k in ("healthy", "flaky", "late")])
ok = tap.ok(env.start_daemon(), "tomslinkd starts with its state on a 3 MB file system", env.daemon_stderr())
for k in ("healthy", "flaky"):
    p = env.set_credential(k, "sis-" + k, S[k])
    tap.ok(p.returncode == 0, "credential set %s (acknowledged before the disk fills)" % k, p.stdout + p.stderr)
before = env.status()
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") == "ok" for k in ("healthy", "flaky")), 20),
       "both links ok", env.status())
before = env.status()
time.sleep(1)
rss0, hwm0 = env.proc_status("VmRSS"), env.proc_status("VmHWM")

# ---- fill the file system to the last byte ------------------------------------------------

t_full, t_mono = time.time(), time.monotonic()
with open(state + "/filler", "wb", buffering=0) as f:
    for size in (1 << 20, 1 << 16, 4096, 512, 1):
        try:
            while True:
                f.write(b"\0" * size)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
st = os.statvfs(state)
tap.ok(st.f_bavail == 0, "the state file system is full (%d blocks free)" % st.f_bavail)

# one link fails from now on: probes are recorded and link-down is raised while full
env.write_endpoint(dict(table, **{"/api/ping/flaky": {"status": 503}}))
probes0 = env.endpoint_requests("/api/ping/healthy")
p = env.set_credential("late", "sis-late", S["late"])
late_acked = p.returncode == 0
tap.ok(late_acked or ("No space left on device" in p.stdout + p.stderr and p.returncode == 1),
       "a credential set while full is either stored or refused with a clear error (%s)"
       % ("stored" if late_acked else (p.stdout + p.stderr).strip()), p.stdout + p.stderr)

alert = wait_for(lambda: env.journal(MESSAGE_ID=env.ids["link-down"], TOMSLINK_LINK="flaky"), 20)
tap.ok(len(alert or []) == 1, "link-down of the failing link reaches the journal while the disk is full", alert)
time.sleep(8)   # probes go on; each would be a write
probes1 = env.endpoint_requests("/api/ping/healthy")
tap.ok(probes1 - probes0 >= 5, "probing goes on while full (%d probes of the healthy link)" % (probes1 - probes0))
p = env.ctl("status")
tap.ok(p.returncode == 0 and "healthy" in p.stdout, "tomslinkctl status answers while full", p.stdout + p.stderr)
s = env.status()
tap.ok(s.get("flaky", {}).get("state") == "down" and s.get("healthy", {}).get("state") == "ok",
       "status: the failing link is down, the healthy one ok", s)
for cmd in (["show", "flaky"], ["alerts"], ["credential", "history", "healthy"]):
    p = env.ctl(*cmd)
    tap.ok(p.returncode == 0, "tomslinkctl %s answers while full" % " ".join(cmd), p.stdout + p.stderr)

errors = [e for e in env.daemon_log(min_priority=3) if e.get("ERRNO") == str(errno.ENOSPC)]
tap.note("\n".join("daemon: " + e["MESSAGE"] for e in errors))
tap.ok(1 <= len(errors) <= 3, "the full disk is logged clearly and once, not per probe (%d error entries with ERRNO=28)"
       % len(errors), "\n".join(e["MESSAGE"] for e in errors[:10]))
tap.ok(any("No space left on device" in e["MESSAGE"] and state in e["MESSAGE"] for e in errors),
       "the message names the state directory and the cause", [e["MESSAGE"] for e in errors[:3]])
tap.ok(any("state database not writable: No space left on device" in m for m in env.noted("STATUS=", t_mono)),
       "STATUS= (systemctl status) says the state database is not writable", env.noted("STATUS=", t_mono))
rss1, hwm1 = env.proc_status("VmRSS"), env.proc_status("VmHWM")
tap.ok(env.daemon.poll() is None and hwm1 - hwm0 < 20 * 1024,
       "memory stays bounded while full: VmRSS %d -> %d kB, VmHWM %d -> %d kB" % (rss0, rss1, hwm0, hwm1))
tap.ok(not env.find_mails("flaky", "link-down"), "no e-mail yet: the outbox is on the full disk")

# ---- space returns --------------------------------------------------------------------------------

t_free = time.monotonic()
os.unlink(state + "/filler")
m = wait_for(lambda: env.find_mails("flaky", "link-down"), 30)
tap.ok(len(m or []) == 1, "once space returns, the link-down e-mail raised while full goes out (%.1f s)"
       % (time.monotonic() - t_free), [str(x["Subject"]) for x in env.mails()])
resumed = wait_for(lambda: [e for e in env.daemon_log(min_priority=5) if "is writable again" in e["MESSAGE"]], 10)
tap.note("\n".join("daemon: " + e["MESSAGE"] for e in resumed or []))
tap.ok(resumed, "the daemon says that state writes resumed")
env.write_endpoint(table)
tap.ok(wait_for(lambda: env.find_mails("flaky", "link-recovered"), 20), "link-recovered e-mail after the failing link recovers")
hist = sqlite(state + "/state.db", "SELECT count(*) FROM probe WHERE link = 'healthy' AND time >= %d" % int((t_full + 1) * 1e6))
tap.ok(hist.isdigit(), "probe history readable (%s probes of the healthy link recorded since the disk filled)" % hist, hist)

# ---- restart: nothing acknowledged is lost -----------------------------------------------------------

rc = env.stop_daemon()
tap.ok(rc == 0, "SIGTERM: exit 0", rc)
tap.ok(sqlite(state + "/state.db", "PRAGMA integrity_check") == "ok", "integrity_check ok")
tap.ok(env.start_daemon(), "tomslinkd starts again", env.daemon_stderr())
after = env.status()
for k in ("healthy", "flaky"):
    tap.ok(after.get(k, {}).get("generation") == before[k]["generation"] and after[k]["username"] == "sis-" + k,
           "credential of %s set before the disk filled is still there" % k, after.get(k))
if late_acked:
    tap.ok(after.get("late", {}).get("username") == "sis-late", "the credential acknowledged while full is there",
           after.get("late"))
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") == "ok" for k in ("healthy", "flaky")), 20),
       "both links ok after the restart (the secrets decrypt)", env.status())
errors = [e for e in env.daemon_log(min_priority=3, all_pids=False) if e.get("ERRNO") == str(errno.ENOSPC)]
tap.ok(not errors, "no write error after the restart", errors)
tap.ok(len(env.find_mails("flaky", "link-down")) == 1, "the link-down e-mail was sent exactly once")
env.stop_daemon()
env.cleanup()
sys.exit(tap.done())
