#!/usr/bin/python3
"""Fault: a flood of control clients.

50 raw connections that say nothing, then 200 `tomslinkctl status` at
once: every valid one is answered, the silent ones are dropped after the
idle limit (10 s). Then 300 silent connections at once, beyond the limit
of 256: the ones over it are told "busy" and closed at once, the rest
dropped when idle; the daemon keeps probing, its descriptors and memory
come back, and it answers again.

Usage: control-flood.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import json, os, socket, subprocess, sys, threading, time
from faultlib import Env, Tap, secret, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
IDLE = 10.0          # CONTROL_IDLE_TIMEOUT_DEFAULT
LIMIT = 256          # CONTROL_CLIENTS_MAX_DEFAULT
tap = Tap()
env = Env(BUILD, SRC, "control-flood")
links = ["district", "school-a", "school-b"]
S = {k: secret(k) for k in links}
port = env.start_endpoint({"/api/ping/%s" % k: {"user": "sis-" + k, "secret": v} for k, v in S.items()})
env.config([(k, "https://localhost:%d/api/ping/%s" % (port, k)) for k in links], email=False)
tap.ok(env.start_daemon(), "tomslinkd starts", env.daemon_stderr())
for k in links:
    env.set_credential(k, "sis-" + k, S[k])
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") == "ok" for k in links), 15), "links ok", env.status())
time.sleep(1)
fds0, rss0, hwm0 = env.unix_fds(), env.proc_status("VmRSS"), env.proc_status("VmHWM")


def silent(n):
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(env.socket_path)
        s.settimeout(0)
        out.append(s)
    return out


def closed_or_busy(s):
    """'open' while the daemon keeps the connection, 'busy' when it refused
    it, 'closed' when it hung up without a word."""
    try:
        data = s.recv(65536)
    except BlockingIOError:
        return "open"
    except OSError:
        return "closed"
    if not data:
        return "closed"
    try:
        return "busy" if json.loads(data).get("error", {}).get("code") == "busy" else "other"
    except ValueError:
        return "other"


# ---- 50 silent, 200 valid at once ---------------------------------------------------------------

idle = silent(50)
t_idle = time.monotonic()
time.sleep(0.5)
tap.ok(all(closed_or_busy(s) == "open" for s in idle), "50 silent connections are accepted")
# halfway to the idle limit, while the valid clients come and go
sampled = []
sampler = threading.Timer(IDLE / 2 - (time.monotonic() - t_idle), lambda: sampled.extend(closed_or_busy(s) for s in idle))
sampler.start()
t0 = time.monotonic()
procs = [subprocess.Popen([env.ctl_path, "--socket", env.socket_path, "status", "--json"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for _ in range(200)]
results = []
for p in procs:
    out, err = p.communicate(timeout=60)
    results.append((p.returncode, out, err))
took = time.monotonic() - t0
good = sum(1 for rc, out, err in results if rc == 0 and len(json.loads(out)["links"]) == 3)
tap.ok(good == 200, "200 tomslinkctl status at once: %d answered in full (%.1f s for all)" % (good, took),
       "\n".join(err for rc, out, err in results if rc != 0)[:2000])
sampler.join()
tap.ok(len(sampled) == 50 and all(x == "open" for x in sampled),
       "the silent ones are still held halfway to the idle limit", sampled)
dropped = wait_for(lambda: all(closed_or_busy(s) == "closed" for s in idle), IDLE + 10)
tap.ok(dropped, "the silent ones are dropped after the idle limit (%.1f s)" % (time.monotonic() - t_idle),
       [closed_or_busy(s) for s in idle])
for s in idle:
    s.close()

# ---- 300 silent at once, over the limit ----------------------------------------------------------

flood = silent(300)
time.sleep(1)
states = [closed_or_busy(s) for s in flood]
held, busy = states.count("open"), states.count("busy")
tap.ok(held == LIMIT and busy == 300 - LIMIT,
       "300 silent connections: %d held (the limit), %d told busy at once" % (held, busy), states)
p = env.ctl("status")
tap.ok(p.returncode == 1 and "too many clients" in p.stdout + p.stderr,
       "a client over the limit is told so (exit %d: %s)" % (p.returncode, (p.stdout + p.stderr).strip()))
t = time.monotonic()
n0 = env.endpoint_requests()
time.sleep(3)
tap.ok(env.endpoint_requests() - n0 >= 6, "probing goes on meanwhile (%d probes in 3 s)" % (env.endpoint_requests() - n0))
tap.ok(wait_for(lambda: all(closed_or_busy(s) != "open" for s in flood), IDLE + 10),
       "the held ones are dropped after the idle limit")
for s in flood:
    s.close()
fds1 = wait_for(lambda: env.unix_fds() == fds0, 5)
tap.ok(fds1, "the daemon's UNIX sockets are back to the %d it had before" % len(fds0),
       {k: v for k, v in env.unix_fds().items() if fds0.get(k) != v})
p = env.ctl("status")
tap.ok(p.returncode == 0 and all(k in p.stdout for k in links), "and it answers again", p.stdout + p.stderr)
rss1, hwm1 = env.proc_status("VmRSS"), env.proc_status("VmHWM")
tap.ok(env.daemon.poll() is None and hwm1 - hwm0 < 20 * 1024,
       "memory bounded: VmRSS %d -> %d kB, VmHWM %d -> %d kB" % (rss0, rss1, hwm0, hwm1))
errs = env.daemon_log(min_priority=3)
tap.ok(not errs, "no error logged", [e["MESSAGE"] for e in errs])
rc = env.stop_daemon()
tap.ok(rc == 0, "SIGTERM: exit 0", rc)
sys.exit(tap.done())
