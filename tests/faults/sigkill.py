#!/usr/bin/python3
"""Fault: SIGKILL at the worst moments.

1. During a reload: the configuration alternates between two sets of
   1,500 links (two links with credentials in both), and the daemon is
   killed the moment it says RELOADING=1, ten times over.
2. During a burst of credential rotations: four clients rotate three
   links as fast as they can, and the daemon is killed in the middle,
   three times over.

Each time the next start must be clean (READY=1, every link there), the
store must pass PRAGMA integrity_check, and every rotation that
tomslinkctl saw acknowledged must be in the history, with the current
credential one of the rotations.

Usage: sigkill.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import json, os, random, signal, subprocess, sys, threading, time
from faultlib import Env, Tap, secret, sqlite, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
tap = Tap()
env = Env(BUILD, SRC, "sigkill")
KEEP = ["district", "school"]
ROT = ["rot-a", "rot-b", "rot-c"]
table = {"/api/ping/%s" % k: {"status": 200} for k in KEEP + ROT + ["many"]}
port = env.start_endpoint(table)
DB = env.T + "/state/state.db"


def config(tag):
    links = [(k, "https://localhost:%d/api/ping/%s" % (port, k)) for k in KEEP + ROT]
    links += [("%s-%04d" % (tag, i), "https://localhost:%d/api/ping/many" % port) for i in range(1500)]
    env.config(links, email=False)


config("a")
tap.ok(env.start_daemon(), "tomslinkd starts with 1,505 links", env.daemon_stderr())
for k in KEEP:
    p = env.set_credential(k, "sis-" + k, secret(k))
    tap.ok(p.returncode == 0, "credential set %s" % k, p.stdout + p.stderr)
gens = {k: env.status()[k]["generation"] for k in KEEP}

# ---- 1. SIGKILL during a reload ---------------------------------------------------------------------

mid = 0
clean = True
bad = []
for i in range(10):
    kill_at = [None]

    def hook(msg, pid=env.daemon.pid):
        if "RELOADING=1" in msg and kill_at[0] is None:
            os.kill(pid, signal.SIGKILL)
            kill_at[0] = time.monotonic()

    config("b" if i % 2 == 0 else "a")
    since = time.monotonic()
    env.notify_hook = hook
    env.daemon.send_signal(signal.SIGHUP)
    try:
        env.daemon.wait(timeout=20)
    except subprocess.TimeoutExpired:
        env.stop_daemon(signal.SIGKILL)
    env.notify_hook = None
    time.sleep(0.1)
    # a READY=1 between RELOADING=1 and the kill means the reload had ended
    if kill_at[0] and not env.noted("READY=1", since):
        mid += 1
    integrity = sqlite(DB, "PRAGMA integrity_check")
    started = env.start_daemon()
    st = env.status() if started else {}
    if integrity != "ok" or not started or len(st) != 1505 or any(st.get(k, {}).get("generation") != gens[k] for k in KEEP):
        clean = False
        bad.append((i, integrity, started, len(st), env.daemon_stderr()[-500:]))
tap.ok(mid >= 5, "killed in the middle of the reload %d times of 10 (no READY=1 after RELOADING=1)" % mid)
tap.ok(clean, "after each kill: integrity_check ok, the next start clean, 1,505 links, credentials kept", bad)

# ---- 2. SIGKILL during a burst of rotations -----------------------------------------------------------

acked = {k: [] for k in ROT}
lost = []
rounds_ok = True
for rnd in range(3):
    stop = threading.Event()
    counter = [0]
    lock = threading.Lock()

    def worker(w):
        rng = random.Random(w * 100 + rnd)
        while not stop.is_set():
            link = rng.choice(ROT)
            with lock:
                counter[0] += 1
                user = "u%d-%d-%d" % (rnd, w, counter[0])
            p = env.ctl("credential", "rotate", link, "--username", user, stdin=secret(user) + "\n", timeout=30)
            if p.returncode == 0:
                with lock:
                    acked[link].append(user)
            elif p.returncode in (69, 1):
                pass   # the daemon died under it: not acknowledged
            if p.returncode == 69:
                return

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5 + random.random())
    n_before = sum(len(v) for v in acked.values())
    env.stop_daemon(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    integrity = sqlite(DB, "PRAGMA integrity_check")
    started = env.start_daemon()
    if not started or integrity != "ok":
        rounds_ok = False
        tap.note("round %d: integrity %s, started %s: %s" % (rnd, integrity, started, env.daemon_stderr()[-500:]))
        continue
    st = env.status()
    for link in ROT:
        p = env.ctl("credential", "history", link, "--json")
        names = [r["new_username"] for r in json.loads(p.stdout)["rotations"]] if p.returncode == 0 else []
        missing = [u for u in acked[link] if u not in names]
        lost += missing
        if st[link]["username"] not in names:
            rounds_ok = False
    tap.note("round %d: %d rotations acknowledged so far" % (rnd, n_before))
total = sum(len(v) for v in acked.values())
tap.ok(total >= 20, "%d rotations acknowledged in 3 bursts" % total)
tap.ok(rounds_ok, "after each kill: integrity_check ok, a clean start, the current credential from the history")
tap.ok(not lost, "every acknowledged rotation is in the history after the kill (%d lost)" % len(lost), lost[:20])
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") == "ok" for k in ROT + KEEP), 20),
       "the links probe ok with the surviving credentials", {k: env.status().get(k, {}).get("state") for k in ROT + KEEP})
rc = env.stop_daemon()
tap.ok(rc == 0 and sqlite(DB, "PRAGMA integrity_check") == "ok", "SIGTERM: exit 0, integrity_check ok")
sys.exit(tap.done())
