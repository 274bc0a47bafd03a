// Charts drawn as inline SVG at their real pixel size: each chart measures
// its box and draws itself for that width (again on every resize, through a
// ResizeObserver), so its text is never stretched or squashed — no
// `preserveAspectRatio="none"`. Counts get whole-number ticks. Every value
// can be read by pointer and by keyboard: the points of a chart are one
// roving tab stop (arrows move, Home/End jump), each with an aria-label and
// a tooltip. Colours come from the page's CSS variables, so they follow
// dark mode. The numbers are also a real <table> ("Show as table").

import { h } from './api.js';
import { hourLabel, hourShort } from './time.js';

const NS = 'http://www.w3.org/2000/svg';
const s = (tag, attrs = {}, ...kids) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, v);
  e.append(...kids);
  return e;
};
const COLORS = ['var(--accent)', 'var(--ok)', 'var(--late-text)', 'var(--muted)'];
const number = new Intl.NumberFormat();
const countFmt = (v) => number.format(v);

/** A step of 1, 2 or 5 times a power of ten, at least `x`. */
function niceStep(x) {
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x);
}

/** The ticks of a value axis from `min` to at least `max`: whole numbers for counts. */
export function ticks(max, { integer = true, min = 0, count = 4 } = {}) {
  if (!(max > min)) max = min + (integer ? 1 : 1);
  let step = niceStep((max - min) / count);
  if (integer) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step) * step;
  const out = [];
  for (let v = lo; v < max + step * 0.999; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** A table of `head` and `rows` (arrays of cells). */
export function table(caption, head, rows) {
  return h('table', {}, h('caption', { class: 'sr' }, caption),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => i === 0 ? h('th', { scope: 'row' }, String(c)) : h('td', {}, String(c)))))));
}

/**
 * A box that draws `draw(width)` → {svg, points} at its own width, and
 * again whenever that width changes. `points` are the focusable marks
 * (one tab stop, arrows move); each has `el`, `label` (its aria-label and
 * tooltip), `x`, `y` (where the tooltip points) and optional `row`/`col`
 * for two-dimensional arrow keys.
 */
function sized(draw, cls = '') {
  const box = h('div', { class: 'chart-box ' + cls });
  const tip = h('div', { class: 'chart-tip', 'aria-hidden': 'true', hidden: true });
  let width = 0, active = 0, points = [];
  const show = (i) => {
    const p = points[i];
    if (!p) return;
    tip.textContent = p.label;
    tip.hidden = false;
    // Centred over the point, but never past either edge of the chart.
    const half = Math.min(tip.offsetWidth, width) / 2;
    tip.style.left = `${Math.min(Math.max(p.x, half), width - half)}px`;
    tip.style.top = `${Math.max(0, p.y)}px`;
    for (const q of points) q.el.classList.toggle('on', q === p);
  };
  const hide = () => { tip.hidden = true; for (const q of points) q.el.classList.remove('on'); };
  const focus = (i) => {
    if (!points.length) return;
    active = Math.max(0, Math.min(points.length - 1, i));
    points.forEach((p, k) => p.el.setAttribute('tabindex', k === active ? '0' : '-1'));
    points[active].el.focus();
  };
  const render = () => {
    const w = Math.floor(box.clientWidth);
    if (!w || w === width) return;
    const hadFocus = box.contains(document.activeElement);
    width = w;
    const r = draw(w);
    points = r.points || [];
    active = Math.min(active, Math.max(0, points.length - 1));
    points.forEach((p, i) => {
      p.el.setAttribute('tabindex', i === active ? '0' : '-1');
      p.el.setAttribute('role', 'img');
      p.el.setAttribute('aria-label', p.label);
      p.el.classList.add('chart-hit');
      p.el.addEventListener('pointerenter', () => show(i));
      p.el.addEventListener('pointerleave', () => { if (box.contains(document.activeElement)) show(active); else hide(); });
      p.el.addEventListener('focus', () => { active = i; show(i); });
      p.el.addEventListener('blur', () => hide());
    });
    box.replaceChildren(r.svg, tip);
    tip.hidden = true;
    if (hadFocus) focus(active);
  };
  box.addEventListener('keydown', (e) => {
    if (!points.length) return;
    const p = points[active];
    const move = {
      ArrowRight: () => active + 1, ArrowLeft: () => active - 1, Home: () => 0, End: () => points.length - 1,
      ArrowDown: () => (p.row == null ? active + 1 : points.findIndex((q) => q.row === p.row + 1 && q.col === p.col)),
      ArrowUp: () => (p.row == null ? active - 1 : points.findIndex((q) => q.row === p.row - 1 && q.col === p.col)),
    }[e.key];
    if (!move) { if (e.key === 'Escape') hide(); return; }
    e.preventDefault();
    const next = move();
    if (next >= 0 && next < points.length) focus(next);
  });
  if ('ResizeObserver' in window) new ResizeObserver(() => requestAnimationFrame(render)).observe(box);
  else requestAnimationFrame(render);
  return box;
}

function figure(title, box, tab, legend) {
  const fallback = h('div', { class: 'chart-table', hidden: true }, tab);
  const toggle = h('button', { class: 'ghost small', 'aria-expanded': 'false', onclick: () => {
    fallback.hidden = !fallback.hidden;
    toggle.setAttribute('aria-expanded', String(!fallback.hidden));
    toggle.textContent = fallback.hidden ? 'Show as table' : 'Hide table';
  } }, 'Show as table');
  return h('figure', { class: 'chart card' },
    h('figcaption', {}, h('strong', {}, title), legend, toggle), box, fallback);
}

const legendOf = (series) => h('span', { class: 'legend' }, series.map((x, i) =>
  h('span', {}, h('i', { style: `background:${x.color || COLORS[i]}` }), x.name)));

const CHAR = 7; // about one axis character at 11px, to leave room for tick labels
const B = 24, T = 10, R = 10;
const heightFor = (w) => (w < 480 ? 170 : 210);

/** The value axis of a chart `w` wide: the svg, the plot's left edge and the y of a value. */
function frame(w, series, fmt, opts) {
  const H = heightFor(w);
  const tk = ticks(Math.max(0, ...series.flatMap((x) => x.values.filter((v) => v != null))), opts);
  const top = tk[tk.length - 1], bottom = tk[0];
  const L = 10 + CHAR * Math.max(...tk.map((v) => fmt(v).length));
  const y = (v) => T + (H - T - B) * (1 - (v - bottom) / (top - bottom || 1));
  const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, class: 'pchart' });
  const axes = s('g', { 'aria-hidden': 'true' });
  for (const v of tk) {
    axes.append(s('line', { x1: L, x2: w - R, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis tick' }, fmt(v)));
  }
  svg.append(axes);
  return { svg, axes, y, L, H };
}

/** How many labels apart the x axis names one, so names never collide. */
const spacing = (labels, plotW) => {
  const widest = Math.max(1, ...labels.map((l) => String(l).length)) * CHAR + 14;
  return Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(plotW / widest))));
};

const pointLabel = (label, series, i, fmt) => `${label}: ` + series.map((x) => `${x.name} ${x.values[i] == null ? '—' : fmt(x.values[i])}`).join(', ');

/** Lines over shared labels: `series` = [{name, values}]. */
export function line(title, labels, series, fmt = countFmt, opts = {}) {
  const draw = (w) => {
    const { svg, axes, y, L, H } = frame(w, series, fmt, opts);
    const plotW = w - L - R;
    const x = (i) => L + (labels.length < 2 ? plotW / 2 : (i * plotW) / (labels.length - 1));
    const every = spacing(labels, plotW);
    labels.forEach((l, i) => {
      const anchor = labels.length < 2 ? 'middle' : i === 0 ? 'start' : i === labels.length - 1 ? 'end' : 'middle';
      if (i % every === 0) axes.append(s('text', { x: x(i), y: H - 6, 'text-anchor': anchor, class: 'axis' }, l));
    });
    const marks = s('g', { 'aria-hidden': 'true' });
    series.forEach((ser, k) => {
      const pts = ser.values.map((v, i) => (v == null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean).join(' ');
      marks.append(s('polyline', { points: pts, fill: 'none', stroke: ser.color || COLORS[k], 'stroke-width': 2, 'stroke-linejoin': 'round' }));
      if (labels.length <= 40) ser.values.forEach((v, i) => { if (v != null) marks.append(s('circle', { cx: x(i), cy: y(v), r: 2.5, fill: ser.color || COLORS[k] })); });
    });
    svg.append(marks);
    const slot = labels.length < 2 ? plotW : plotW / (labels.length - 1);
    const hits = s('g', {});
    const points = labels.map((l, i) => {
      const x0 = Math.max(L, x(i) - slot / 2), x1 = Math.min(w - R, x(i) + slot / 2);
      const el = s('rect', { x: x0, y: T, width: Math.max(1, x1 - x0), height: H - T - B, class: 'hit-col' });
      hits.append(el);
      const top = Math.min(...series.map((ser) => (ser.values[i] == null ? H : y(ser.values[i]))));
      return { el, label: pointLabel(l, series, i, fmt), x: x(i), y: top };
    });
    svg.append(hits);
    return { svg, points };
  };
  const tab = table(title, ['', ...series.map((x) => x.name)], labels.map((l, i) => [l, ...series.map((x) => (x.values[i] == null ? '—' : fmt(x.values[i])))]));
  return figure(title, sized(draw), tab, legendOf(series));
}

/** Grouped bars over labels: `series` = [{name, values}]. */
export function bars(title, labels, series, fmt = countFmt, opts = {}) {
  const draw = (w) => {
    const { svg, axes, y, L, H } = frame(w, series, fmt, opts);
    const plotW = w - L - R;
    const slot = plotW / Math.max(1, labels.length);
    const bw = Math.min(48, Math.max(1, (slot * 0.8) / series.length));
    const every = spacing(labels, plotW);
    const marks = s('g', { 'aria-hidden': 'true' });
    const hits = s('g', {});
    const points = labels.map((l, i) => {
      const mid = L + i * slot + slot / 2;
      const x0 = mid - (bw * series.length) / 2;
      series.forEach((ser, k) => {
        const v = ser.values[i] || 0;
        marks.append(s('rect', { x: x0 + k * bw, y: y(v), width: Math.max(1, bw - 1), height: Math.max(0, y(0) - y(v)), fill: ser.color || COLORS[k], rx: 1.5 }));
      });
      if (i % every === 0) axes.append(s('text', { x: mid, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, l));
      const el = s('rect', { x: L + i * slot, y: T, width: slot, height: H - T - B, class: 'hit-col' });
      hits.append(el);
      return { el, label: pointLabel(l, series, i, fmt), x: mid, y: Math.min(...series.map((ser) => y(ser.values[i] || 0))) };
    });
    svg.append(marks, hits);
    return { svg, points };
  };
  const tab = table(title, ['', ...series.map((x) => x.name)], labels.map((l, i) => [l, ...series.map((x) => fmt(x.values[i] || 0))]));
  return figure(title, sized(draw), tab, series.length > 1 ? legendOf(series) : null);
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Seven rows of 24 hours (in the viewer's zone), darker where there is more. */
export function heatmap(title, rows, what = 'conversations') {
  const max = Math.max(1, ...rows.flat());
  const draw = (w) => {
    const L = 38, T = 18;
    const C = Math.max(8, Math.min(34, Math.floor((w - L - 4) / 24)));
    const RH = Math.max(C, 20); // rows stay tall enough for their day's name on a phone
    const H = T + 7 * RH + 2;
    const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, class: 'pchart heat' });
    const axes = s('g', { 'aria-hidden': 'true' });
    const widest = Math.max(...[0, 12, 23].map((x) => hourShort(x).length)) * CHAR + 8;
    const every = [1, 2, 3, 4, 6, 12].find((k) => k * C >= widest) || 12;
    for (let hr = 0; hr < 24; hr += every) axes.append(s('text', { x: L + hr * C + C / 2, y: 12, 'text-anchor': 'middle', class: 'axis' }, hourShort(hr)));
    const cells = s('g', {});
    const points = [];
    rows.forEach((row, d) => {
      axes.append(s('text', { x: L - 6, y: T + d * RH + RH / 2 + 4, 'text-anchor': 'end', class: 'axis' }, DAYS[d]));
      row.forEach((v, hr) => {
        const pct = v ? Math.round(15 + (85 * v) / max) : 0;
        const el = s('rect', { x: L + hr * C + 1, y: T + d * RH + 1, width: C - 2, height: RH - 2, rx: Math.min(3, C / 5),
          style: `fill:${v ? `color-mix(in srgb, var(--accent) ${pct}%, transparent)` : 'var(--line)'}` });
        cells.append(el);
        points.push({ el, row: d, col: hr, x: L + hr * C + C / 2, y: T + d * RH, label: `${DAYS[d]} ${hourLabel(hr)}: ${countFmt(v)} ${what}` });
      });
    });
    svg.append(axes, cells);
    return { svg, points };
  };
  const tab = table(title, ['', ...Array.from({ length: 24 }, (_, i) => hourShort(i))], rows.map((r, d) => [DAYS[d], ...r]));
  return figure(title, sized(draw, 'heat-box'), tab, null);
}

/**
 * A small bar chart with no axes, for a number's last few days: one bar a
 * value on a baseline (`null`: no bar), the last one (today) stronger.
 * `names` label each bar for the tooltip-less description.
 */
export function sparkBars(values, names, label) {
  const known = values.filter((v) => v != null);
  const hi = Math.max(0, ...known) || 1;
  const desc = `${label}: ` + values.map((v, i) => `${names[i]} ${v == null ? '—' : v}`).join(', ');
  const draw = (w) => {
    // Slim bars, the week flush right: today sits under the tile's corner.
    const H = 28, n = values.length, gap = 4;
    const bw = Math.min(10, Math.max(2, (w - gap * (n - 1)) / n));
    const x0 = w - n * bw - (n - 1) * gap;
    const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, class: 'pspark pbars', role: 'img', 'aria-label': desc });
    svg.append(s('line', { x1: 0, x2: w, y1: H - 0.5, y2: H - 0.5, stroke: 'var(--line)', 'stroke-width': 1 }));
    values.forEach((v, i) => {
      if (!v) return;
      const bh = Math.max(2, ((H - 3) * v) / hi);
      svg.append(s('rect', { x: (x0 + i * (bw + gap)).toFixed(1), y: (H - 1 - bh).toFixed(1), width: bw.toFixed(1), height: bh.toFixed(1), rx: 1.5,
        style: `fill:${i === n - 1 ? 'var(--accent)' : 'color-mix(in srgb, var(--accent) 45%, transparent)'}` }));
    });
    return { svg, points: [] };
  };
  return sized(draw, 'spark-box');
}

/**
 * A small line with no axes, for a number's recent trend; `null` values are
 * gaps. The scale runs from the lowest value to the highest (from 0 only
 * with `{ zero: true }`), so a rating that moves from 4.2 to 4.8 shows it.
 */
export function spark(values, label, { zero = true } = {}) {
  const known = values.filter((v) => v != null);
  const draw = (w) => {
    const H = 28;
    const lo = zero ? Math.min(0, ...known) : Math.min(...known);
    let hi = Math.max(zero ? 1 : lo, ...known);
    if (hi === lo) hi = lo + 1;
    const x = (i) => (values.length < 2 ? w / 2 : (i * (w - 4)) / (values.length - 1) + 2);
    const y = (v) => H - 3 - ((H - 6) * (v - lo)) / (hi - lo);
    const pts = values.map((v, i) => (v == null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean).join(' ');
    const svg = s('svg', { width: w, height: H, viewBox: `0 0 ${w} ${H}`, class: 'pspark', role: 'img', 'aria-label': label },
      s('polyline', { points: pts, fill: 'none', stroke: 'var(--accent)', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
    // A lone value has no line to draw: a dot says where it is.
    if (known.length === 1) { const i = values.findIndex((v) => v != null); svg.append(s('circle', { cx: x(i), cy: y(values[i]), r: 2.5, fill: 'var(--accent)' })); }
    return { svg, points: [] };
  };
  return sized(draw, 'spark-box');
}
