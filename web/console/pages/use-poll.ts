import { useEffect, useState } from 'preact/hooks';

/** Calls `load` now and every `ms` while the page is shown; returns the last value or error. */
export function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): { data: T | undefined; error: string; reload(): void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      load().then(
        (d) => live && (setData(d), setError('')),
        (e: Error) => live && setError(e.message),
      );
    void run();
    const t = ms > 0 ? setInterval(() => void run(), ms) : undefined;
    return () => {
      live = false;
      if (t) clearInterval(t);
    };
  }, [tick, ...deps]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}
