/**
 * A small Prometheus registry: counters and gauges with labels, rendered in the text
 * exposition format. Kept here (not in http/) so domain code can count without knowing HTTP.
 */
type Labels = Record<string, string>;

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  values: Map<string, { labels: Labels; value: number }>;
}

interface Histogram {
  help: string;
  /** Upper bounds in ascending order; +Inf is implied. */
  buckets: readonly number[];
  series: Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly histograms = new Map<string, Histogram>();

  /**
   * One observation of a histogram (Prometheus: _bucket{le}, _sum, _count). The buckets are
   * fixed by the first call for a name.
   */
  observe(name: string, labels: Labels, value: number, buckets: readonly number[], help = name): void {
    let h = this.histograms.get(name);
    if (!h) {
      h = { help, buckets: [...buckets].sort((a, b) => a - b), series: new Map() };
      this.histograms.set(name, h);
    }
    const key = labelKey(labels);
    let s = h.series.get(key);
    if (!s) {
      s = { labels, counts: h.buckets.map(() => 0), sum: 0, count: 0 };
      h.series.set(key, s);
    }
    for (let i = 0; i < h.buckets.length; i++) if (value <= h.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  private family(name: string, type: Family['type'], help: string): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { type, help, values: new Map() };
      this.families.set(name, f);
    }
    return f;
  }

  /** Declares a metric so it is rendered (as 0) before its first event. */
  declare(name: string, type: Family['type'], help: string): void {
    this.family(name, type, help);
  }

  inc(name: string, labels: Labels = {}, by = 1, help = name): void {
    this.add(name, 'counter', help, labels, by);
  }

  gauge(name: string, labels: Labels, by: number, help = name): void {
    this.add(name, 'gauge', help, labels, by);
  }

  private add(name: string, type: Family['type'], help: string, labels: Labels, by: number): void {
    const f = this.family(name, type, help);
    const key = labelKey(labels);
    const cur = f.values.get(key);
    if (cur) cur.value += by;
    else f.values.set(key, { labels, value: by });
  }

  /** Sets a gauge to `value` (a level sampled from elsewhere, e.g. the relay queue's depth). */
  set(name: string, labels: Labels, value: number, help = name): void {
    const f = this.family(name, 'gauge', help);
    const key = labelKey(labels);
    const cur = f.values.get(key);
    if (cur) cur.value = value;
    else f.values.set(key, { labels, value });
  }

  /** The sum of a family's values over every series whose labels include `match`. */
  total(name: string, match: Labels = {}): number {
    let sum = 0;
    const f = this.families.get(name);
    if (!f) return 0;
    for (const { labels, value } of f.values.values()) if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += value;
    return sum;
  }

  /** A histogram's cumulative bucket counts summed over its series (null before its first observation). */
  histogramTotals(name: string): { buckets: readonly number[]; counts: number[]; count: number } | null {
    const h = this.histograms.get(name);
    if (!h) return null;
    const counts = h.buckets.map(() => 0);
    let count = 0;
    for (const s of h.series.values()) {
      s.counts.forEach((c, i) => (counts[i]! += c));
      count += s.count;
    }
    return { buckets: h.buckets, counts, count };
  }

  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, f] of this.families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      if (f.values.size === 0) lines.push(`${name} 0`);
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(',');
        lines.push(l ? `${name}{${l}} ${value}` : `${name} ${value}`);
      }
    }
    for (const [name, h] of this.histograms) {
      lines.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const { labels, counts, sum, count } of h.series.values()) {
        const base = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
        const with_ = (extra: string[]) => (extra.length ? `{${extra.join(',')}}` : '');
        h.buckets.forEach((le, i) => lines.push(`${name}_bucket${with_([...base, `le="${le}"`])} ${counts[i]}`));
        lines.push(`${name}_bucket${with_([...base, 'le="+Inf"'])} ${count}`);
        lines.push(`${name}_sum${with_(base)} ${sum}`, `${name}_count${with_(base)} ${count}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}
