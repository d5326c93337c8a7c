// Line charts drawn as SVG by hand: one x axis, one y axis, a few named series.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 400;
const HEIGHT = 220;
const MARGIN = { left: 44, right: 10, top: 22, bottom: 26 };

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceTicks(min, max, count) {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

/**
 * Draws `series` ([{ name, points: [[x, y], ...] }]) into `svg`, replacing what it held.
 * `yRange` fixes the y axis (e.g. [0, 1] for accuracy); otherwise it fits the data.
 */
export function drawLineChart(svg, series, { xLabel = '', yRange = null } = {}) {
  svg.replaceChildren();
  const points = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (points.length === 0) {
    svg.append(element('text', { x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, 'no data yet'));
    return;
  }
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs, xMin + 1);
  let [yMin, yMax] = yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!(yMax > yMin)) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotWidth;
  const py = (y) => MARGIN.top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight;
  for (const tick of niceTicks(yMin, yMax, 4)) {
    svg.append(element('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: py(tick), y2: py(tick) }));
    svg.append(element('text', { x: MARGIN.left - 4, y: py(tick) + 4, 'text-anchor': 'end' }, String(tick)));
  }
  for (const tick of niceTicks(xMin, xMax, 5).filter((t) => Number.isInteger(t))) {
    svg.append(element('text', { x: px(tick), y: HEIGHT - MARGIN.bottom + 14, 'text-anchor': 'middle' }, String(tick)));
  }
  svg.append(element('line', { class: 'axis', x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom }));
  svg.append(element('line', { class: 'axis', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: HEIGHT - MARGIN.bottom, y2: HEIGHT - MARGIN.bottom }));
  if (xLabel) svg.append(element('text', { x: WIDTH - MARGIN.right, y: HEIGHT - 2, 'text-anchor': 'end' }, xLabel));
  series.forEach((s, index) => {
    const valid = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (valid.length === 1) {
      svg.append(element('circle', { class: `legend-${index}`, cx: px(valid[0][0]), cy: py(valid[0][1]), r: 3 }));
    } else if (valid.length > 1) {
      svg.append(element('polyline', { class: `series-${index}`, points: valid.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ') }));
    }
    svg.append(element('rect', { class: `legend-${index}`, x: MARGIN.left + 4 + index * 120, y: 6, width: 10, height: 10 }));
    svg.append(element('text', { x: MARGIN.left + 18 + index * 120, y: 15 }, s.name));
  });
}
