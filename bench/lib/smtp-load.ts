import { LineClient } from './line-client.js';

export interface LoadResult {
  seconds: number;
  /** End of DATA to the 250, per message, in ms. */
  latencies: number[];
  /** Connect to the greeting, per connection, in ms. */
  greetings: number[];
  failed: number;
}

/**
 * N messages over `concurrency` pipelined SMTP sessions to one recipient. `accepted(i, at)`
 * is called with performance.now() at each 250, for latencies measured beyond the 250.
 * `perConnection`: every message on a connection of its own (connect, greeting, EHLO, one
 * transaction, QUIT), as smtp-source does without -d and as most MTAs deliver to a new
 * destination; otherwise each session carries message after message.
 */
export async function smtpLoad(opts: {
  port: number;
  n: number;
  concurrency: number;
  rcpt: string;
  message(i: number): Buffer;
  accepted?(i: number, at: number): void;
  perConnection?: boolean;
  /** Stops taking new messages once true (with n as the upper bound): load for as long as something else runs. */
  until?(): boolean;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const greetings: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const open = async (): Promise<LineClient> => {
    const t0 = performance.now();
    const c = await LineClient.connect(opts.port);
    const greeting = await c.reply();
    greetings.push(performance.now() - t0);
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    c.write('EHLO bench.client\r\n');
    await c.reply();
    return c;
  };
  const quit = async (c: LineClient): Promise<void> => {
    c.write('QUIT\r\n');
    await c.reply();
    c.close();
  };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      let c: LineClient | undefined;
      for (;;) {
        const i = next++;
        if (i >= opts.n || opts.until?.()) break;
        c ??= await open();
        const msg = opts.message(i);
        c.write(`MAIL FROM:<load@remote.test>\r\nRCPT TO:<${opts.rcpt}>\r\nDATA\r\n`);
        await c.reply();
        await c.reply();
        await c.reply();
        const t0 = performance.now();
        c.write(msg);
        const r = await c.reply();
        const t1 = performance.now();
        latencies.push(t1 - t0);
        if (r.startsWith('250')) opts.accepted?.(i, t1);
        else failed++;
        if (opts.perConnection) {
          await quit(c);
          c = undefined;
        }
      }
      if (c) await quit(c);
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies, greetings, failed };
}
