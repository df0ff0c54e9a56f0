#!/usr/bin/env python3
"""Fetches every message of a mailbox with Python's poplib (a POP3 client that is not ours)
and prints JSON: [{"uidl": ..., "size": ..., "data": base64}]. Optionally deletes them.
usage: pop3dump.py HOST PORT USER PASSWORD [--stls|--ssl] [--delete]"""
import base64, json, poplib, ssl, sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
flags = set(sys.argv[5:])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
poplib._MAXLINE = 1 << 20
if '--ssl' in flags:
    p = poplib.POP3_SSL(host, port, context=ctx, timeout=60)
else:
    p = poplib.POP3(host, port, timeout=60)
    if '--stls' in flags:
        p.stls(context=ctx)
p.user(user)
p.pass_(password)
count, _ = p.stat()
uidls = {int(l.split()[0]): l.split()[1].decode() for l in p.uidl()[1]}
sizes = {int(l.split()[0]): int(l.split()[1]) for l in p.list()[1]}
out = []
for i in range(1, count + 1):
    _, lines, octets = p.retr(i)
    data = b"\r\n".join(lines) + b"\r\n"
    out.append({"uidl": uidls[i], "size": sizes[i], "octets": octets, "data": base64.b64encode(data).decode()})
    if '--delete' in flags:
        p.dele(i)
p.quit()
print(json.dumps(out))
