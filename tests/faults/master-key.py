#!/usr/bin/python3
"""Fault: the master key file is removed or corrupted.

While tomslinkd runs, the key file is removed, then overwritten with
garbage, then with another 32-byte key: the daemon holds the key it read
at start in memory and keeps working (probes decrypt the stored secrets,
a rotation encrypts a new one) without a word. A restart with a key of
the wrong size, with a wrong key, with a broken systemd credential, or
with the key file missing, fails at once with a message that names the
file and leaves the state files as they were (compared byte for byte,
after a SIGKILL left a write-ahead log behind). Restoring the key brings
everything back.

Usage: master-key.py BUILD_DIR SOURCE_DIR (as root, via run.sh). TAP."""
import hashlib, os, signal, subprocess, sys, time
from faultlib import Env, Tap, secret, sqlite, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
tap = Tap()
env = Env(BUILD, SRC, "master-key")
T = env.T
S = {k: secret(k) for k in ("district", "school")}
NEW = secret("school-new")
table = {"/api/ping/%s" % k: [{"user": "sis-" + k, "secret": v}] for k, v in S.items()}
table["/api/ping/school"].append({"user": "sis-school-2", "secret": NEW})
port = env.start_endpoint(table)
KEY = T + "/keys/master.key"
env.config([(k, "https://localhost:%d/api/ping/%s" % (port, k)) for k in S], email=False,
           paths="  key_file: %s\n" % KEY)
tap.ok(env.start_daemon(), "tomslinkd starts and creates its key", env.daemon_stderr())
key = open(KEY, "rb").read()
tap.ok(len(key) == 32 and os.stat(KEY).st_mode & 0o777 == 0o600, "the key file: 32 bytes, mode 0600")
for k in S:
    p = env.set_credential(k, "sis-" + k, S[k])
    tap.ok(p.returncode == 0, "credential set %s" % k, p.stdout + p.stderr)
tap.ok(wait_for(lambda: all(env.status().get(k, {}).get("state") == "ok" for k in S), 15), "both links ok", env.status())


def last_probe(link):
    return (env.status().get(link, {}).get("last_probe") or {})


def still_working(what):
    t = last_probe("district").get("time")
    fresh = wait_for(lambda: last_probe("district").get("time") not in (None, t), 10)
    st = env.status()
    tap.ok(fresh and all(st.get(k, {}).get("state") == "ok" and st[k]["last_probe"]["class"] == "ok" for k in S),
           "%s: probes go on and decrypt the stored secrets" % what, st)


# ---- at run time ---------------------------------------------------------------------------------

os.unlink(KEY)
still_working("key file removed at run time")
p = env.ctl("credential", "rotate", "school", "--username", "sis-school-2", stdin=NEW + "\n")
tap.ok(p.returncode == 0 and "ok" in p.stdout, "key file removed: a rotation is stored and verified", p.stdout + p.stderr)
tap.ok(not os.path.exists(KEY), "the running daemon does not write a new key file")
with open(KEY, "wb") as f:
    f.write(b"garbage")
os.chmod(KEY, 0o600)
still_working("key file corrupted at run time")
with open(KEY, "wb") as f:
    f.write(os.urandom(32))
still_working("key file replaced by another key at run time")
errs = env.daemon_log(min_priority=4, all_pids=False)
tap.ok(not errs, "no warning or error logged meanwhile", [e["MESSAGE"] for e in errs])
before = env.status()

# a crash leaves a write-ahead log: the files must stay exactly as they are
env.stop_daemon(signal.SIGKILL)
STATE = T + "/state"


def snapshot():
    return {f: hashlib.sha256(open(os.path.join(STATE, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(STATE)) if not f.endswith("-shm")}


snap = snapshot()
tap.note("state files after SIGKILL: %s" % ", ".join("%s (%d bytes)" % (f, os.path.getsize(os.path.join(STATE, f))) for f in snap))


def refused(what, must_name, extra_env=None, contains=()):
    t0 = time.monotonic()
    env.start_daemon(wait=False, env=env.daemon_env(extra=extra_env))
    try:
        rc = env.daemon.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
        env.stop_daemon(signal.SIGKILL)
    took = time.monotonic() - t0
    msgs = [e["MESSAGE"] for e in env.daemon_log(min_priority=3, all_pids=False)]
    tap.note("%s: exit %s after %.1f s: %s" % (what, rc, took, " | ".join(msgs)))
    tap.ok(rc == 1, "%s: the daemon refuses to start (exit %s)" % (what, rc))
    tap.ok(any(must_name in m and all(c in m for c in contains) for m in msgs),
           "%s: the message names %s" % (what, must_name), msgs)
    tap.ok(snapshot() == snap, "%s: the state files are untouched" % what, snapshot())


with open(KEY, "wb") as f:
    f.write(b"garbage")
refused("a key file of the wrong size", KEY, contains=("32 bytes",))
with open(KEY, "wb") as f:
    f.write(os.urandom(32))
refused("a wrong key", KEY, contains=("state.db",))
os.makedirs(T + "/creds")
with open(T + "/creds/tomslink.key", "wb") as f:
    f.write(b"short")
refused("a broken systemd credential", T + "/creds/tomslink.key", extra_env={"CREDENTIALS_DIRECTORY": T + "/creds"})
os.unlink(KEY)
refused("the key file missing", KEY, contains=("master key is missing", "tomslink.key", "state.db"))
tap.ok(not os.path.exists(KEY), "the key file missing: no new key is made in its place")

# ---- the key restored --------------------------------------------------------------------------------

with open(KEY, "wb") as f:
    f.write(key)
os.chmod(KEY, 0o600)
tap.ok(env.start_daemon(), "with the key restored the daemon starts", env.daemon_stderr())
after = env.status()
tap.ok(all(after.get(k, {}).get("generation") == before[k]["generation"] for k in S)
       and after["school"]["username"] == "sis-school-2",
       "every credential is there, the rotation made without the key file too", after)
t = time.monotonic()
tap.ok(wait_for(lambda: all((env.status().get(k, {}).get("last_probe") or {}).get("class") == "ok"
                            and env.status()[k]["state"] == "ok" for k in S), 15),
       "and the secrets decrypt: both links probe ok", env.status())
rc = env.stop_daemon()
tap.ok(rc == 0 and sqlite(STATE + "/state.db", "PRAGMA integrity_check") == "ok", "stop, integrity_check ok")
sys.exit(tap.done())
