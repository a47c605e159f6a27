// The local live dashboard: every panel is a Vega-Lite spec whose data the server resolved
// exactly as OpenSearch Dashboards would (viz/vega_query.py). Text from the data is only ever
// rendered by Vega (SVG text nodes) or assigned with textContent: never parsed as HTML.
'use strict';

const state = { range: null, refreshS: 5, panels: [], timer: null, renders: 0 };

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function buildGrid(catalogue) {
  const grid = document.getElementById('grid');
  grid.replaceChildren();
  for (const panel of catalogue.panels) {
    const box = el('section', { class: 'panel', id: `panel-${panel.id}`, 'data-panel': panel.id,
                                'data-state': 'loading', 'data-renders': '0',
                                'aria-label': panel.title });
    box.style.gridColumn = `span ${panel.w}`;
    box.style.gridRow = `span ${panel.h}`;
    box.appendChild(el('div', { class: 'chart' }));
    grid.appendChild(box);
  }
}

async function renderPanel(panel) {
  const box = document.getElementById(`panel-${panel.id}`);
  try {
    const data = await getJSON(`/api/panels/${encodeURIComponent(panel.id)}?range=${state.range}`);
    const chart = el('div', { class: 'chart' });
    const old = box.querySelector('.chart, .error');
    chart.style.visibility = 'hidden';
    box.appendChild(chart);
    const result = await vegaEmbed(chart, data.spec, { actions: false, renderer: 'svg' });
    if (old) old.remove();
    chart.style.visibility = '';
    if (box.view) box.view.finalize();
    box.view = result.view;
    box.dataset.state = 'ok';
    box.dataset.renders = String(Number(box.dataset.renders) + 1);
  } catch (err) {
    for (const node of box.querySelectorAll('.chart:not(:first-of-type)')) node.remove();
    const message = el('div', { class: 'error' }, `${panel.title}: ${err.message}`);
    box.replaceChildren(message);
    box.dataset.state = 'error';
  }
}

async function refresh() {
  clearTimeout(state.timer);
  const status = document.getElementById('status');
  await Promise.all(state.panels.map(renderPanel));
  state.renders += 1;
  document.body.dataset.refreshes = String(state.renders);
  status.textContent = `updated ${new Date().toLocaleTimeString()} · refresh every ${state.refreshS} s`;
  state.timer = setTimeout(refresh, state.refreshS * 1000);
}

async function start() {
  const catalogue = await getJSON('/api/panels');
  state.refreshS = catalogue.refresh_s;
  state.panels = catalogue.panels;
  document.getElementById('title').textContent = catalogue.title;
  document.getElementById('index').textContent = catalogue.index;
  const picker = document.getElementById('range');
  for (const range of catalogue.ranges) picker.appendChild(el('option', { value: range.key }, range.label));
  const wanted = new URLSearchParams(location.search).get('range');
  state.range = catalogue.ranges.some((r) => r.key === wanted) ? wanted : catalogue.default_range;
  picker.value = state.range;
  picker.addEventListener('change', () => { state.range = picker.value; refresh(); });
  buildGrid(catalogue);
  await refresh();
}

document.addEventListener('DOMContentLoaded', () => {
  start().catch((err) => {
    document.getElementById('status').textContent = `error: ${err.message}`;
  });
});
