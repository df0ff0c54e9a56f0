import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: Array<number | null>;
}

/** A uPlot line chart over time `t` (epoch seconds), resized to its container; a caption names it for screen readers. */
export function Chart(props: { id: string; title: string; t: number[]; series: Series[]; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [props.t, ...props.series.map((s) => s.values)] as uPlot.AlignedData;
  useEffect(() => {
    const el = box.current!;
    const width = () => Math.max(280, el.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 200,
        series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true }))],
        axes: [{}, { label: props.unit, size: 60 }],
        scales: { x: { time: true } },
      },
      data,
      el,
    );
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.series.length]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return (
    <figure class="chart" aria-labelledby={`${props.id}-caption`}>
      <figcaption id={`${props.id}-caption`}>{props.title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${props.title}: ${props.series.map((s) => `${s.label} ${last(s.values)}`).join(', ')}`} />
    </figure>
  );
}

function last(v: Array<number | null>): string {
  for (let i = v.length - 1; i >= 0; i--) if (v[i] !== null) return String(v[i]);
  return 'no data';
}
