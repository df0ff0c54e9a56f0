/** Everything an async iterable yields, in order (Array.fromAsync is not in Node 20). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
