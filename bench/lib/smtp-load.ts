import { LineClient } from './line-client.js';

export interface LoadResult {
  seconds: number;
  /** End of DATA to the 250, per message, in ms. */
  latencies: number[];
  failed: number;
}

/**
 * N messages over `concurrency` pipelined SMTP sessions to one recipient. `accepted(i, at)`
 * is called with performance.now() at each 250, for latencies measured beyond the 250.
 */
export async function smtpLoad(opts: {
  port: number;
  n: number;
  concurrency: number;
  rcpt: string;
  message(i: number): Buffer;
  accepted?(i: number, at: number): void;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      const c = await LineClient.connect(opts.port);
      await c.reply();
      c.write('EHLO bench.client\r\n');
      await c.reply();
      for (;;) {
        const i = next++;
        if (i >= opts.n) break;
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
      }
      c.write('QUIT\r\n');
      await c.reply();
      c.close();
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies, failed };
}
