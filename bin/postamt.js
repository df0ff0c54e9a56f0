#!/usr/bin/env node
// The `postamt` command. The TypeScript sources are compiled to dist/ by `npm install`
// (the `prepare` script) and by `npm run build`.
// Every blob write is a chain of fsyncs on libuv's thread pool; four threads (the default)
// are too few for a mail server's concurrent deliveries. Must be set before the pool starts.
process.env.UV_THREADPOOL_SIZE ??= '16';
// Everything postamt creates (stored mail, the database and its WAL, keys, tokens) is for the
// service user alone; the code sets private modes too, this catches what a library creates.
process.umask(0o077);
// Output piped into a reader that stops early (`postamt --help | head`): end quietly, as
// command-line tools do, instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main } = await import('../dist/src/cli/main.js');

main(process.argv).catch((err) => {
  process.stderr.write(`postamt: ${err?.message ?? err}\n`);
  process.exitCode = 1;
});
