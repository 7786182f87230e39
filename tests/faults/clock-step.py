#!/usr/bin/python3
"""Fault: the wall clock is stepped a day forward, back, and forward again.

The machine's clock cannot be stepped in CI, so the daemon runs with
tests/lib/clockstep.so preloaded: it steps CLOCK_REALTIME (reads and
absolute realtime timers, as a real step does) of this one process,
leaving CLOCK_MONOTONIC and CLOCK_BOOTTIME alone; clockstep-check first
shows that it behaves like the kernel. (libfaketime does not do for this:
it moves every absolute timerfd by its offset, CLOCK_BOOTTIME ones too,
which stalls sd-event's monotonic timers; see tests/lib/clockstep.c.)

Ten links are probed every 4 s; one credential has 8 days left and the
only warning threshold is 7 days. Expiry must follow the wall clock: a
day forward makes 7 days left and sends the warning once (journal and
e-mail), at once; a day back makes 8 again and sends nothing; forward
again sends nothing more, nor does a restart. Probing must follow the
monotonic clock: no burst after the step forward, no stall after the step
back.

Usage: clock-step.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import json, os, subprocess, sys, threading, time
from faultlib import Env, Tap, iso, secret, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
SHIM = os.path.join(BUILD, "tests", "clockstep.so")
CHECK = os.path.join(BUILD, "tests", "clockstep-check")
INTERVAL = 4
LINKS = ["district"] + ["school-%d" % i for i in range(9)]
tap = Tap()
env = Env(BUILD, SRC, "clock-step")
T = env.T
OFFSET = T + "/clock-offset"


def step(seconds):
    with open(OFFSET + ".tmp", "w") as f:
        f.write("%d\n" % seconds)
    os.rename(OFFSET + ".tmp", OFFSET)
    time.sleep(0.05)   # the shim looks every 10 ms


def shim_env(extra=None):
    e = {"LD_PRELOAD": SHIM, "CLOCKSTEP_FILE": OFFSET,
         # a sanitizer build wants its runtime first; the shim only wraps libc's clocks
         "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")}
    e.update(extra or {})
    return e


# ---- the shim itself -----------------------------------------------------------------------------

p = subprocess.run([CHECK], env=dict(os.environ, **shim_env({"CLOCKSTEP_FILE": T + "/check-offset"})),
                   capture_output=True, text=True, timeout=60)
for line in p.stdout.splitlines():
    if line.startswith("ok - ") or line.startswith("not ok - "):
        tap.ok(line.startswith("ok"), line.split(" - ", 1)[1])
tap.ok(p.returncode == 0, "clockstep-check passed", p.stdout + p.stderr)

# ---- the daemon under a stepped clock ---------------------------------------------------------------

step(0)
env.timezone = "UTC"
env.start_smtp()
port = env.start_endpoint({"/api/ping/%s" % k: {"status": 200} for k in LINKS})
env.config([(k, "https://localhost:%d/api/ping/%s" % (port, k)) for k in LINKS],
           probe="  interval: %ds\n" % INTERVAL, alerts="  expiry_warn_days: [7]\n")
# (the probe: section above sets interval 1s first; the later key must not be a duplicate)
text = open(T + "/tomslink.yaml").read().replace("  interval: 1s\n", "")
open(T + "/tomslink.yaml", "w").write(text)
tap.ok(env.start_daemon(env=env.daemon_env(extra=shim_env())), "tomslinkd starts with the clock shim", env.daemon_stderr())
now = time.time()
for k in LINKS:
    gen = iso(now - 357 * 86400) if k == "district" else None
    p = env.set_credential(k, "sis-" + k, secret(k), generated=gen)
    if p.returncode != 0:
        tap.ok(False, "credential set %s" % k, p.stdout + p.stderr)
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") in ("ok", "expiring") for k in LINKS)
                and all(env.status()[k].get("last_probe") for k in LINKS), 20), "ten links probed",
       {k: env.status().get(k, {}).get("state") for k in LINKS})
tap.ok(env.status()["district"]["days_left"] == 8, "district: 8 days left", env.status()["district"])


def expiring():
    return env.journal(all_pids=True, MESSAGE_ID=env.ids["credential-expiring"], TOMSLINK_LINK="district")


tap.ok(not expiring(), "no warning yet (the threshold is 7 days)")

# probe arrivals, by the real monotonic clock of this process
arrivals = []


def watch():
    n = env.endpoint_requests()
    while not done.is_set():
        m = env.endpoint_requests()
        arrivals.extend([time.monotonic()] * (m - n))
        n = m
        time.sleep(0.05)


done = threading.Event()
threading.Thread(target=watch, daemon=True).start()
time.sleep(2 * INTERVAL)


def probes(t0, t1):
    return sum(1 for t in arrivals if t0 <= t < t1)


def max_per_second(t0, t1):
    return max((probes(t, t + 1) for t in [t0 + i * 0.1 for i in range(int((t1 - t0 - 1) * 10) + 1)]), default=0)


expected = len(LINKS) / INTERVAL   # probes a second
t = time.monotonic()
base = probes(t - 2 * INTERVAL, t)
tap.note("before any step: %d probes in %d s, at most %d in a second" % (base, 2 * INTERVAL, max_per_second(t - 2 * INTERVAL, t)))

# ---- a day forward -------------------------------------------------------------------------------------

t_step, wall_step = time.monotonic(), time.time()
step(86400)
tap.ok(wait_for(lambda: env.status()["district"]["days_left"] == 7, 5),
       "a day forward: 7 days left (%.1f s after the step)" % (time.monotonic() - t_step), env.status()["district"])
j = wait_for(expiring, 10)
delay = int(j[0]["__REALTIME_TIMESTAMP"]) / 1e6 - wall_step if j else -1
tap.ok(len(j or []) == 1 and j[0].get("TOMSLINK_DAYS_LEFT") == "7",
       "the 7-day warning is sent once, %.1f s after the step (journal)" % delay, j)
tap.ok(0 <= delay < 3, "at once: the realtime timer follows the step, no wait for the next midnight")
time.sleep(2 * INTERVAL)
n, peak = probes(t_step, t_step + 2 * INTERVAL), max_per_second(t_step, t_step + 2 * INTERVAL)
tap.ok(n <= 2 * INTERVAL * expected + 3 and peak <= 2 * expected + 2,
       "no burst of probes after the step forward: %d in %d s, at most %d in a second (%.1f expected)"
       % (n, 2 * INTERVAL, peak, expected))
tap.ok(n >= 2 * INTERVAL * expected - 4, "... and no pause either (%d)" % n)
tap.ok(wait_for(lambda: len(env.find_mails("district", "credential-expiring")) == 1, 20), "one e-mail about it")

# ---- a day back ------------------------------------------------------------------------------------------

t_back = time.monotonic()
step(0)
tap.ok(wait_for(lambda: env.status()["district"]["days_left"] == 8, 5), "a day back: 8 days left again",
       env.status()["district"])
time.sleep(2 * INTERVAL)
n = probes(t_back, t_back + 2 * INTERVAL)
tap.ok(n >= 2 * INTERVAL * expected - 4, "no stall of probes after the step back: %d in %d s" % (n, 2 * INTERVAL))
tap.ok(len(expiring()) == 1, "nothing is sent on the way back")

# ---- forward again, and a restart -------------------------------------------------------------------------

step(86400)
tap.ok(wait_for(lambda: env.status()["district"]["days_left"] == 7, 5), "forward again: 7 days left")
time.sleep(3)
tap.ok(len(expiring()) == 1, "the threshold already sent is not sent again")
rc = env.stop_daemon()
started = env.start_daemon(env=env.daemon_env(extra=shim_env()))
tap.ok(rc == 0 and started, "restart a day ahead", "exit %s, then started %s: %s" % (rc, started, env.daemon_stderr()[-2000:]))
time.sleep(3)
tap.ok(env.status()["district"]["days_left"] == 7 and len(expiring()) == 1,
       "after the restart: 7 days left, still one warning (from the ledger)", [e.get("MESSAGE") for e in expiring()])
tap.ok(len(env.find_mails("district", "credential-expiring")) == 1, "and one e-mail in all")
done.set()
rc = env.stop_daemon()
tap.ok(rc == 0, "SIGTERM: exit 0", rc)
sys.exit(tap.done())
