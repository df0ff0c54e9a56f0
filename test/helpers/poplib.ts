import { python } from './process.js';

/**
 * Drives Python's poplib, a POP3 client we did not write, through a list of operations and
 * returns what it saw. Message contents come back base64-encoded, rebuilt from poplib's
 * un-stuffed lines, so byte-exactness can be checked.
 */
const SCRIPT = String.raw`
import poplib, ssl, sys, json, base64
port, mode, user, pw, ops = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == 'implicit':
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx)
else:
    p = poplib.POP3('127.0.0.1', port)
    if mode == 'stls':
        p.stls(ctx)
out = {'welcome': p.getwelcome().decode(), 'capa': sorted(p.capa().keys()), 'results': []}
p.user(user)
p.pass_(pw)
def body(lines):
    return base64.b64encode(b''.join(l + b'\r\n' for l in lines)).decode()
for op in ops:
    name = op[0]
    try:
        if name == 'stat':
            r = list(p.stat())
        elif name == 'list':
            r = [l.decode() for l in p.list()[1]]
        elif name == 'uidl':
            r = [l.decode() for l in p.uidl()[1]]
        elif name == 'retr':
            resp, lines, octets = p.retr(op[1])
            r = {'resp': resp.decode(), 'body': body(lines)}
        elif name == 'top':
            resp, lines, octets = p.top(op[1], op[2])
            r = {'resp': resp.decode(), 'body': body(lines)}
        elif name == 'dele':
            r = p.dele(op[1]).decode()
        elif name == 'rset':
            r = p.rset().decode()
        elif name == 'quit':
            r = p.quit().decode()
    except poplib.error_proto as e:
        r = {'error': e.args[0].decode()}
    out['results'].append(r)
print(json.dumps(out))
`;

export type PoplibOp =
  | ['stat']
  | ['list']
  | ['uidl']
  | ['retr', number]
  | ['top', number, number]
  | ['dele', number]
  | ['rset']
  | ['quit'];

export interface PoplibResult {
  welcome: string;
  capa: string[];
  results: unknown[];
}

export function poplib(
  port: number,
  mode: 'plain' | 'stls' | 'implicit',
  user: string,
  password: string,
  ops: PoplibOp[],
): Promise<PoplibResult> {
  return python<PoplibResult>(SCRIPT, [port, mode, user, password, JSON.stringify(ops)]);
}

/** A poplib retr/top result's body as bytes. */
export function bodyOf(r: unknown): Buffer {
  const b = (r as { body?: string }).body;
  if (typeof b !== 'string') throw new Error(`not a message result: ${JSON.stringify(r)}`);
  return Buffer.from(b, 'base64');
}
