#!/usr/bin/python3
"""Parses an e-mail message with Python's email package (the policy a modern
mail client uses) and prints what a test asserts, as one JSON object:
headers (name and decoded value, in order), the raw header lines, the parser's
defects, the content type, charset and transfer encoding, the decoded body,
and facts about the raw bytes (longest line, bare CR or LF, 8-bit bytes in
the header). Usage: check_eml.py FILE (or - for standard input)."""
import email, email.policy, email.utils, json, re, sys

raw = sys.stdin.buffer.read() if sys.argv[1] == "-" else open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
head, _, _ = raw.partition(b"\r\n\r\n")
lines = raw.split(b"\r\n")
out = {
    "headers": [[k, str(v)] for k, v in msg.items()],
    "raw_header_names": [l.split(b":", 1)[0].decode("ascii", "replace")
                         for l in head.split(b"\r\n") if l and l[:1] not in (b" ", b"\t")],
    "defects": [type(d).__name__ for d in msg.defects] +
               [type(d).__name__ for k, v in msg.items() for d in getattr(v, "defects", ())],
    "content_type": msg.get_content_type(),
    "charset": msg.get_content_charset(),
    "cte": msg.get("Content-Transfer-Encoding"),
    "multipart": msg.is_multipart(),
    # the decoded text, with the CRLF line ends a reader shows as lines made "\n"
    "body": msg.get_content().replace("\r\n", "\n") if not msg.is_multipart() else None,
    "max_line": max(len(l) for l in lines),
    "max_header_line": max(len(l) for l in head.split(b"\r\n")),
    "bare_lf": len(re.findall(rb"(?<!\r)\n", raw)),
    "bare_cr": len(re.findall(rb"\r(?!\n)", raw)),
    "header_8bit": any(b >= 0x80 for b in head),
    "body_8bit": any(b >= 0x80 for b in raw[len(head):]),
    "to": [a for _, a in email.utils.getaddresses(msg.get_all("To", []))],
    "from": email.utils.parseaddr(str(msg.get("From", "")))[1],
    "from_name": email.utils.parseaddr(str(msg.get("From", "")))[0],
}
d = msg.get("Date")
out["date_utc"] = email.utils.parsedate_to_datetime(str(d)).timestamp() if d else None
print(json.dumps(out))
