// Charts drawn as inline SVG: a line chart, grouped bars, an hour-of-week
// heatmap and sparklines. Colours come from the page's CSS variables, so
// they follow dark mode. Every chart is a <figure> whose picture is hidden
// from screen readers and whose numbers are a real <table> beside it
// (shown on demand to everyone: "Show as table").

import { h } from './api.js';

const NS = 'http://www.w3.org/2000/svg';
const s = (tag, attrs = {}, ...kids) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, v);
  e.append(...kids);
  return e;
};
const COLORS = ['var(--accent)', 'var(--ok)', 'var(--late-text)', 'var(--muted)'];
const nice = (max) => {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
};

/** A table of `head` and `rows` (arrays of cells). */
export function table(caption, head, rows) {
  return h('table', {}, h('caption', { class: 'sr' }, caption),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => i === 0 ? h('th', { scope: 'row' }, String(c)) : h('td', {}, String(c)))))));
}

function figure(title, svg, tab, legend) {
  const fallback = h('div', { class: 'chart-table', hidden: true }, tab);
  const toggle = h('button', { class: 'ghost small', 'aria-expanded': 'false', onclick: () => {
    fallback.hidden = !fallback.hidden;
    toggle.setAttribute('aria-expanded', String(!fallback.hidden));
    toggle.textContent = fallback.hidden ? 'Show as table' : 'Hide table';
  } }, 'Show as table');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  return h('figure', { class: 'chart card' },
    h('figcaption', {}, h('strong', {}, title), legend, toggle), svg, fallback);
}

const legendOf = (series) => h('span', { class: 'legend' }, series.map((x, i) =>
  h('span', {}, h('i', { style: `background:${x.color || COLORS[i]}` }), x.name)));

const W = 640, H = 200, L = 36, B = 22, T = 8;

/** An empty chart with its value axis: the svg, the y of a value, and
 * how many labels apart the x axis names one. */
function frame(series, labels, fmt) {
  const max = nice(Math.max(0, ...series.flatMap((x) => x.values)));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'svg-chart', preserveAspectRatio: 'none' });
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { x1: L, x2: W - 8, y1: y(max * f), y2: y(max * f), class: 'grid' }),
      s('text', { x: L - 4, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(max * f)));
  }
  return { svg, y, every: Math.max(1, Math.ceil(labels.length / 6)) };
}

/** Lines over shared labels: `series` = [{name, values}]. */
export function line(title, labels, series, fmt = String) {
  const { svg, y, every } = frame(series, labels, fmt);
  const x = (i) => L + (labels.length < 2 ? 0 : (i * (W - L - 8)) / (labels.length - 1));
  labels.forEach((l, i) => {
    if (i % every === 0) svg.append(s('text', { x: x(i), y: H - 6, 'text-anchor': 'middle', class: 'axis' }, l));
  });
  series.forEach((ser, k) => {
    const pts = ser.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(s('polyline', { points: pts, fill: 'none', stroke: ser.color || COLORS[k], 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' }));
  });
  const tab = table(title, ['', ...series.map((x) => x.name)], labels.map((l, i) => [l, ...series.map((x) => fmt(x.values[i]))]));
  return figure(title, svg, tab, legendOf(series));
}

/** Grouped bars over labels: `series` = [{name, values}]. */
export function bars(title, labels, series, fmt = String) {
  const { svg, y, every } = frame(series, labels, fmt);
  const slot = (W - L - 8) / Math.max(1, labels.length);
  const bw = Math.max(1, (slot * 0.8) / series.length);
  labels.forEach((l, i) => {
    const x0 = L + i * slot + slot * 0.1;
    series.forEach((ser, k) => {
      const v = ser.values[i] || 0;
      svg.append(s('rect', { x: x0 + k * bw, y: y(v), width: Math.max(1, bw - 1), height: Math.max(0, y(0) - y(v)), fill: ser.color || COLORS[k] }));
    });
    if (i % every === 0) svg.append(s('text', { x: x0 + (bw * series.length) / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, l));
  });
  const tab = table(title, ['', ...series.map((x) => x.name)], labels.map((l, i) => [l, ...series.map((x) => fmt(x.values[i] || 0))]));
  return figure(title, svg, tab, series.length > 1 ? legendOf(series) : null);
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Seven rows of 24 hours, darker where there is more. */
export function heatmap(title, rows) {
  const C = 22, L = 34, T = 16;
  const max = Math.max(1, ...rows.flat());
  const svg = s('svg', { viewBox: `0 0 ${L + 24 * C} ${T + 7 * C}`, class: 'svg-chart heat' });
  for (let hr = 0; hr < 24; hr += 3) svg.append(s('text', { x: L + hr * C + C / 2, y: 11, 'text-anchor': 'middle', class: 'axis' }, String(hr).padStart(2, '0')));
  rows.forEach((row, d) => {
    svg.append(s('text', { x: L - 4, y: T + d * C + C / 2 + 4, 'text-anchor': 'end', class: 'axis' }, DAYS[d]));
    row.forEach((v, hr) => {
      const pct = v ? Math.round(15 + (85 * v) / max) : 0;
      svg.append(s('rect', { x: L + hr * C + 1, y: T + d * C + 1, width: C - 2, height: C - 2, rx: 3,
        style: `fill:${v ? `color-mix(in srgb, var(--accent) ${pct}%, transparent)` : 'var(--line)'}` }));
    });
  });
  const tab = table(title, ['', ...Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'))], rows.map((r, d) => [DAYS[d], ...r]));
  return figure(title, svg, tab, null);
}

/** A small line with no axes, for a number's recent trend. */
export function spark(values, label) {
  const W = 120, H = 28;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${((i * W) / Math.max(1, values.length - 1)).toFixed(1)},${(H - 2 - ((H - 4) * v) / max).toFixed(1)}`).join(' ');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark', preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    s('polyline', { points: pts, fill: 'none', stroke: 'var(--accent)', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }));
  return svg;
}
