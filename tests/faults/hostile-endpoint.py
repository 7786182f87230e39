#!/usr/bin/python3
"""Fault: a hostile TOMS endpoint (tests/lib/hostile-endpoint.py).

Links whose endpoint answers with a 50 MB body, an endless chunked body,
header lines without end, or a slowloris trickle of one byte a second
are probed every second for a while next to a healthy link on another
endpoint. The daemon's memory (VmRSS, VmHWM from /proc) must stay
bounded, every hostile probe must end within `timeout` plus a margin (a
trickle as `timeout`), and the healthy link must keep being probed at its
interval meanwhile.

Usage: hostile-endpoint.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import json, os, sys, time
from faultlib import Env, Tap, secret, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
TIMEOUT = 3          # probe.timeout of the hostile links, seconds
MARGIN = 2.0         # what the loop may add on a loaded machine (sanitizer build)
HOSTILE = ("big", "chunked", "headers", "slowloris")
tap = Tap()
env = Env(BUILD, SRC, "hostile")
S = {"healthy": secret("healthy")}
env.smtp_port = 0
port = env.start_endpoint({"/api/ping/healthy": {"user": "sis-healthy", "secret": S["healthy"]}})
hport = env.start_hostile()
links = [("healthy", "https://localhost:%d/api/ping/healthy" % port)]
links += [(h, "https://localhost:%d/%s" % (hport, h), "    timeout: %ds\n" % TIMEOUT) for h in HOSTILE]
env.config(links, email=False, probe="  per_host_parallel: 8\n")
tap.ok(env.start_daemon(), "tomslinkd starts", env.daemon_stderr())
p = env.set_credential("healthy", "sis-healthy", S["healthy"])
tap.ok(p.returncode == 0, "credential set healthy", p.stdout + p.stderr)
tap.ok(wait_for(lambda: env.status().get("healthy", {}).get("state") == "ok", 15), "healthy link ok", env.status())
time.sleep(2)
rss0, hwm0 = env.proc_status("VmRSS"), env.proc_status("VmHWM")
tap.note("before: VmRSS %d kB, VmHWM %d kB" % (rss0, hwm0))

# ---- one probe of each, timed from outside ------------------------------------------------------

for h in HOSTILE:
    p = env.set_credential(h, "sis-" + h, secret(h))   # probed within seconds; the reply does not wait
    tap.ok(p.returncode == 0, "credential set %s" % h, p.stdout + p.stderr)
results = {}
for h in HOSTILE:
    t0 = time.monotonic()
    p = env.ctl("probe", h, "--json", timeout=TIMEOUT * 4 + 30)
    took = time.monotonic() - t0
    try:
        r = json.loads(p.stdout)["results"][0]["result"]
    except (ValueError, KeyError, IndexError, TypeError):
        r = None
    results[h] = r
    total = (r or {}).get("times_ms", {}).get("total") or 0
    tap.note("%s: %.2f s, %s" % (h, took, json.dumps(r)))
    # the probe asked for may wait for the scheduled one in flight: at most two timeouts
    tap.ok(r is not None and total / 1000 <= TIMEOUT + MARGIN and took <= 2 * TIMEOUT + MARGIN,
           "%s: the probe ends within timeout + %.0f s (%.2f s in the probe, %.2f s for tomslinkctl)"
           % (h, MARGIN, total / 1000, took), p.stdout + p.stderr)
tap.ok((results.get("slowloris") or {}).get("class") == "timeout", "slowloris: classified as timeout",
       results.get("slowloris"))
tap.ok((results.get("headers") or {}).get("class") in ("http", "timeout"),
       "endless headers: a failure (%s: %s)" % ((results.get("headers") or {}).get("class"),
                                                (results.get("headers") or {}).get("error")), results.get("headers"))
r = results.get("big") or {}
tap.ok(r.get("class") == "ok" and r.get("http_status") == 200 and r.get("times_ms", {}).get("total", 1e9) < 2000,
       "50 MB body: the status counts, the body is not read past its cap (%s ms)" % r.get("times_ms", {}).get("total"), r)

# ---- all of them probed every second for a while -------------------------------------------------

t0 = time.monotonic()
healthy0 = env.endpoint_requests("/api/ping/healthy")
hostile0 = len(env.hostile_log())
samples = []
while time.monotonic() - t0 < 20:
    samples.append((env.proc_status("VmRSS"), env.proc_status("VmHWM")))
    time.sleep(0.5)
elapsed = time.monotonic() - t0
healthy = env.endpoint_requests("/api/ping/healthy") - healthy0
log = env.hostile_log()
tap.note("hostile answers ended: %s" % {h: sum(1 for e in log[hostile0:] if e["path"] == "/" + h) for h in HOSTILE})
tap.note("bytes the endpoint got out before each hang-up (last of each): %s"
         % {h: [e["sent"] for e in log if e["path"] == "/" + h][-1:] for h in HOSTILE})
tap.ok(healthy >= elapsed - 3, "the healthy link is probed every second meanwhile (%d probes in %.0f s)" % (healthy, elapsed))
tap.ok(env.status().get("healthy", {}).get("state") == "ok", "and stays ok", env.status().get("healthy"))
s = env.status()
tap.ok(all(s.get(h, {}).get("state") in ("down", "ok") for h in HOSTILE),
       "the hostile links: %s" % {h: s.get(h, {}).get("state") for h in HOSTILE})
rss1, hwm1 = env.proc_status("VmRSS"), env.proc_status("VmHWM")
tap.ok(env.daemon.poll() is None, "the daemon is alive")
tap.ok(hwm1 - hwm0 < 20 * 1024,
       "memory bounded: VmRSS %d -> %d kB, VmHWM %d -> %d kB (+%d kB, bound +20 MB)" % (rss0, rss1, hwm0, hwm1, hwm1 - hwm0))
tap.ok(max(r for r, h in samples) - rss0 < 20 * 1024, "VmRSS never above +20 MB meanwhile (max %d kB)" % max(r for r, h in samples))
t0 = time.monotonic()
rc = env.stop_daemon()
tap.ok(rc == 0 and time.monotonic() - t0 < TIMEOUT + 5, "SIGTERM with hostile probes in flight: exit 0 in %.1f s" % (time.monotonic() - t0), rc)
sys.exit(tap.done())
