#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks that the documentation keeps up with the code (TAP output).

check-docs.py SOURCE_ROOT TOMSLINKD [MANPAGE...]

- every man page given renders with man(1) (or groff) without a warning;
- tomslink.yaml(5) documents every configuration key of lib/config.c, in
  the right section (the key tables are read from the source: the keys[]
  arrays and PROBE_KEYS);
- tomslinkd(8) documents every option of daemon/main.c's option table,
  every MESSAGE_ID of lib/alert.h, every environment variable the
  daemon and the library read with getenv(), and every metric of
  lib/metrics.c with its type;
- tomslinkctl(1) and the bash completion cover every command and option of
  tomslinkctl's token tables (lib/ctl-parse.c), and those tables hold every
  command of the specification's list (tests/docs/tomslinkctl-commands.txt);
- the EXAMPLE of tomslink.yaml(5) is a valid configuration.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

src, tomslinkd = sys.argv[1], sys.argv[2]
pages = sys.argv[3:]
n = 0
failed = False


def tap(ok, name, diag=()):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {name}")
    for line in diag:
        print(f"# {line}")
    if not ok:
        failed = True


def skip(name, why):
    global n
    n += 1
    print(f"ok {n} - {name} # SKIP {why}")


def read(*parts):
    with open(os.path.join(src, *parts), encoding="utf-8") as f:
        return f.read()


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


# ---- rendering -------------------------------------------------------------

def render_warnings(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    if shutil.which("man"):
        cmd = ["man", "--warnings", "-E", "UTF-8", "-l", page]
    else:
        cmd = ["groff", "-man", "-Tutf8", "-ww", "-z", page]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    problems = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode != 0:
        problems.append(f"{cmd[0]} exited with {p.returncode}")
    if len(p.stdout) < 500 and cmd[0] == "man":
        problems.append("the rendered page is nearly empty")
    return problems


if pages:
    for page in pages:
        problems = render_warnings(page)
        tap(not problems, f"{os.path.basename(page)} renders without warnings", problems)
else:
    skip("man pages render without warnings", "scdoc not found, man pages not built")


# ---- tomslink.yaml(5) versus lib/config.c ------------------------------------

def config_key_tables():
    """[(section, function, [keys])] from the keys[] arrays of lib/config.c."""
    text = strip_c_comments(read("lib", "config.c"))
    m = re.search(r"#define\s+PROBE_KEYS((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        raise SystemExit("Bail out! no PROBE_KEYS in lib/config.c")
    probe_keys = re.findall(r'"([^"]+)"', m.group(1))
    tables = []
    for m in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+keys\[\]\s*=\s*\{(.*?)\};", text, re.S):
        body = m.group(1)
        keys = []
        for tok in re.findall(r'"[^"]*"|\bPROBE_KEYS\b|\bNULL\b', body):
            if tok == "PROBE_KEYS":
                keys += probe_keys
            elif tok != "NULL":
                keys.append(tok.strip('"'))
        funcs = re.findall(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\([^;{]*\)\s*\{", text[: m.start()], re.M)
        func = funcs[-1] if funcs else "?"
        if func == "parse_root":
            section = "top-level"
        elif func == "parse_link":
            section = "links"
        else:
            s = re.fullmatch(r"parse_(\w+?)_section", func)
            section = s.group(1) if s else None
        tables.append((section, func, keys))
    return tables, probe_keys


def scd_sections(text):
    """{'top-level': text, 'probe': text, ...} of tomslink.yaml.5.scd."""
    out = {}
    m = re.search(r"^# TOP-LEVEL KEYS\n(.*?)(?=^## |^# )", text, re.M | re.S)
    out["top-level"] = m.group(1) if m else ""
    for m in re.finditer(r"^## (\S+)\n(.*?)(?=^## |^# |\Z)", text, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def defines(section_text, key):
    return re.search(r"^\*" + re.escape(key) + r"\*", section_text, re.M) is not None


yaml5 = read("config", "tomslink.yaml.5.scd")
sections = scd_sections(yaml5)
tables, probe_keys = config_key_tables()
if not tables:
    tap(False, "lib/config.c has key tables", ["no keys[] arrays found: has the loader changed shape?"])
for section, func, keys in tables:
    if section is None:
        tap(False, f"keys[] of {func}() belongs to a known section",
            ["cannot tell which section of tomslink.yaml(5) documents it; teach tests/docs/check-docs.py"])
        continue
    text = sections.get(section)
    if text is None:
        tap(False, f"tomslink.yaml(5) has a section for {section}",
            [f"no '## {section}' in config/tomslink.yaml.5.scd"])
        continue
    missing = []
    for k in keys:
        if defines(text, k):
            continue
        # a link inherits the probe keys, documented under probe:
        if section == "links" and k in probe_keys + ["max_parallel", "per_host_parallel"] and \
                defines(sections.get("probe", ""), k):
            continue
        missing.append(k)
    tap(not missing, f"tomslink.yaml(5) documents all {len(keys)} keys of {section} ({func}() in lib/config.c)",
        [f"not documented: {', '.join(missing)}"] if missing else [])


# ---- tomslinkd(8) versus the daemon ------------------------------------------

tomslinkd8 = read("daemon", "tomslinkd.8.scd")
main_c = strip_c_comments(read("daemon", "main.c"))
m = re.search(r"struct\s+option\s+options\[\]\s*=\s*\{(.*?)\};", main_c, re.S)
long_opts = re.findall(r'\{\s*"([^"]+)"', m.group(1)) if m else []
m = re.search(r"getopt_long\s*\([^,]+,[^,]+,\s*\"([^\"]*)\"", main_c)
short_opts = [c for c in (m.group(1) if m else "") if c.isalnum()]
documented = [f"--{o}" for o in long_opts] + [f"-{o}" for o in short_opts]
missing = [o for o in documented if f"*{o}*" not in tomslinkd8]
tap(bool(long_opts) and not missing,
    f"tomslinkd(8) documents all {len(documented)} options of daemon/main.c",
    [f"not documented: {', '.join(missing)}"] if missing else
    ([] if long_opts else ["no option table found in daemon/main.c"]))

alert_h = read("lib", "alert.h")
ids = dict(re.findall(r"#define\s+ALERT_MESSAGE_ID_(\w+)\s+\"([0-9a-f]{32})\"", alert_h))
missing = [f"{k}={v}" for k, v in ids.items() if v not in tomslinkd8]
tap(len(ids) == 7 and not missing, f"tomslinkd(8) lists all {len(ids)} MESSAGE_IDs of lib/alert.h",
    [f"not listed: {', '.join(missing)}"] if missing else [])

getenv = set()
for d in ("daemon", "lib"):
    for name in sorted(os.listdir(os.path.join(src, d))):
        if name.endswith(".c"):
            getenv |= set(re.findall(r'\bgetenv\s*\(\s*"([A-Z_]+)"', read(d, name)))
env_section = re.search(r"^# ENVIRONMENT\n(.*?)(?=^# )", tomslinkd8, re.M | re.S)
env_text = env_section.group(1) if env_section else ""
missing = sorted(v for v in getenv if f"*{v}*" not in env_text)
tap(not missing, f"tomslinkd(8) ENVIRONMENT covers the {len(getenv)} variables read with getenv()",
    [f"not documented: {', '.join(missing)}"] if missing else [])

metrics_c = read("lib", "metrics.c")
families = re.findall(r'put_header\(b,\s*"(tomslink_\w+)",\s*"(\w+)"', metrics_c)
metrics_section = re.search(r"^# METRICS\n(.*?)(?=^# )", tomslinkd8, re.M | re.S)
metrics_text = metrics_section.group(1) if metrics_section else ""
missing = [f"{name} ({kind})" for name, kind in families
           if not re.search(r"\*" + name + r"(\{[a-z_,]+\})?\* \(" + kind + r"\)", metrics_text)]
tap(len(families) >= 10 and not missing,
    f"tomslinkd(8) METRICS lists all {len(families)} metrics of lib/metrics.c with their types",
    [f"not listed: {', '.join(missing)}"] if missing else [])


# ---- tomslinkctl(1) and the completion versus the command list ---------------

# The commands and options tomslinkctl really parses, from its token tables.
parse_c = strip_c_comments(read("lib", "ctl-parse.c"))


def table(name):
    m = re.search(r"static const Token " + name + r"\[\] = \{(.*?)\n\};", parse_c, re.S)
    return m.group(1) if m else ""


commands = [k for k in re.findall(r'\{ T_KEYWORD, "([a-z-]+)"', table("t_main")) if k != "credential"]
commands += ["credential " + k for k in re.findall(r'\{ T_KEYWORD, "([a-z-]+)"', table("t_credential"))]
options = set(re.findall(r'\{ T_(?:OPTION|FLAG), "(--[a-z-]+)"', parse_c))

spec_commands = []
for line in read("tests", "docs", "tomslinkctl-commands.txt").splitlines():
    if not line.startswith("tomslinkctl "):
        continue
    words = line.split()[1:]
    spec_commands.append(" ".join(words[:2] if words[0] == "credential" else words[:1]))
missing = [c for c in spec_commands if c not in commands]
tap(len(commands) >= 14 and not missing, f"tomslinkctl parses all {len(spec_commands)} commands of the specification",
    [f"not parsed: {', '.join(missing)}"] if missing else [])
ctl1 = read("daemon", "ctl", "tomslinkctl.1.scd")
missing = [c for c in commands if not re.search(r"^\*" + re.escape(c) + r"\*", ctl1, re.M)]
missing += [o for o in sorted(options) if f"*{o}*" not in ctl1]
tap(len(commands) >= 14 and not missing,
    f"tomslinkctl(1) documents all {len(commands)} commands and {len(options)} options",
    [f"not documented: {', '.join(missing)}"] if missing else [])

completion = read("packaging", "bash-completion", "tomslinkctl")


def words_in(var):
    m = re.search(var + r"='([^']*)'", completion)
    return m.group(1).split() if m else []


top, cred = words_in("local commands"), words_in("local credential_commands")
missing = []
for c in commands:
    parts = c.split()
    if parts[0] not in top or (len(parts) > 1 and parts[1] not in cred):
        missing.append(c)
missing += [o for o in sorted(options) if o not in completion]
tap(bool(top) and not missing, "the bash completion covers every command and option",
    [f"missing: {', '.join(missing)}"] if missing else [])


# ---- the example of tomslink.yaml(5) is valid --------------------------------

m = re.search(r"^# EXAMPLE\n.*?^```\n(.*?)^```", yaml5, re.M | re.S)
if not m:
    tap(False, "tomslink.yaml(5) has an EXAMPLE", [])
else:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(m.group(1))
    p = subprocess.run([tomslinkd, "--check-config", "--config", f.name],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    os.unlink(f.name)
    tap(p.returncode == 0, "the EXAMPLE of tomslink.yaml(5) passes tomslinkd --check-config",
        p.stdout.splitlines())

print(f"1..{n}")
sys.exit(1 if failed else 0)
