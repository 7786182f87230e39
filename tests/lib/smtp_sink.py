#!/usr/bin/python3
"""Loopback SMTP server for the tests (Debian's python3-aiosmtpd 1.4; run it
with /usr/bin/python3, which sees Debian's packages).

Saves every accepted message as OUTDIR/NNNN.eml (the bytes as received,
dot-unstuffed) and OUTDIR/NNNN.json (the envelope: mail_from, rcpt_tos,
auth, tls, ehlo), the .eml renamed into place last. Appends one JSON line per
event (connect, ehlo, auth, mail, rcpt, data) to OUTDIR/events.log, so a test
can tell that nothing was sent in clear.

  --port 0 --port-file F    listen on a free port and write it to F
  --tls-cert/--tls-key      offer STARTTLS (or, with --smtps, implicit TLS)
  --require-starttls        refuse MAIL and AUTH before STARTTLS
  --auth USER:PASS          offer AUTH and require it
  --auth-mechanisms M,...   offer only these (PLAIN, LOGIN)
  --auth-plaintext          offer AUTH without TLS too
  --echo-auth               a failed AUTH answers with the credentials it got
                            (a hostile server, for the secret-scrubbing test)
  --fail-first N --fail-at MAIL|RCPT|DATA --fail-code 'NNN text'
                            refuse the first N transactions at that command
  --reject-rcpt ADDR=REPLY  always refuse this recipient with REPLY
  --reply-hex HEX           with --fail-first: the refusal as raw bytes (hex),
                            for replies with control or non-UTF-8 bytes
  --lifetime S              exit by itself after S seconds"""
import argparse, asyncio, json, os, ssl, itertools
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--outdir", required=True)
ap.add_argument("--tls-cert")
ap.add_argument("--tls-key")
ap.add_argument("--require-starttls", action="store_true")
ap.add_argument("--smtps", action="store_true")
ap.add_argument("--auth")
ap.add_argument("--auth-mechanisms")
ap.add_argument("--auth-plaintext", action="store_true")
ap.add_argument("--echo-auth", action="store_true")
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--fail-code", default="451 4.3.0 Try again later")
ap.add_argument("--fail-at", default="DATA", choices=["MAIL", "RCPT", "DATA"])
ap.add_argument("--reply-hex")
ap.add_argument("--reject-rcpt", action="append", default=[])
ap.add_argument("--lifetime", type=float, default=120)
a = ap.parse_args()
os.makedirs(a.outdir, exist_ok=True)
seq = itertools.count(1)
fails_left = a.fail_first
rejects = dict(r.split("=", 1) for r in a.reject_rcpt)


def event(**kw):
    with open(os.path.join(a.outdir, "events.log"), "a") as f:
        f.write(json.dumps(kw) + "\n")


def is_tls(server, session):
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


class Handler:
    def _maybe_fail(self, stage):
        global fails_left
        if stage == a.fail_at and fails_left > 0:
            fails_left -= 1
            return bytes.fromhex(a.reply_hex) if a.reply_hex else a.fail_code
        return None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        event(ev="ehlo", name=hostname, tls=is_tls(server, session))
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        event(ev="mail", tls=is_tls(server, session), auth=bool(session.authenticated))
        r = self._maybe_fail("MAIL")
        if r:
            return r
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        event(ev="rcpt", address=address)
        if address in rejects:
            return rejects[address]
        r = self._maybe_fail("RCPT")
        if r:
            return r
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        event(ev="data")
        r = self._maybe_fail("DATA")
        if r:
            return r
        n = next(seq)
        base = os.path.join(a.outdir, "%04d" % n)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "auth": session.auth_data if session.authenticated else None,
                "tls": is_tls(server, session), "ehlo": session.host_name}
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, _, pw = a.auth.partition(":")
    event(ev="auth", mechanism=mechanism, tls=is_tls(server, session))
    if isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
            and auth_data.password == pw.encode():
        return AuthResult(success=True, auth_data={"user": user, "mechanism": mechanism})
    if a.echo_auth and isinstance(auth_data, LoginPassword):
        got = (auth_data.login + b" " + auth_data.password).decode("ascii", "replace")
        return AuthResult(success=False, handled=False, message="535 5.7.8 rejected " + got)
    return AuthResult(success=False, handled=False)


def tls_ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(a.tls_cert, a.tls_key)
    return c


class LoggingSMTP(SMTP):
    def connection_made(self, transport):
        event(ev="connect")
        super().connection_made(transport)


async def main():
    kw = {}
    if a.tls_cert and not a.smtps:
        kw.update(tls_context=tls_ctx(), require_starttls=a.require_starttls)
    if a.auth:
        kw.update(authenticator=authenticator, auth_required=True,
                  # aiosmtpd 1.4 counts only STARTTLS as TLS: implicit TLS needs this off
                  auth_require_tls=not (a.auth_plaintext or a.smtps))
        if a.auth_mechanisms:
            keep = a.auth_mechanisms.upper().split(",")
            kw.update(auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m not in keep])
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: LoggingSMTP(Handler(), hostname="smtp.test", **kw),
                                   a.host, a.port, ssl=tls_ctx() if a.smtps else None)
    port = srv.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(a.port_file + ".tmp", a.port_file)
    await asyncio.sleep(a.lifetime)
    srv.close()

asyncio.run(main())
