// Compile Vega-Lite specs and render them to SVG with the project's pinned vega (local/node_modules).
// stdin: JSON array of specs; stdout: JSON array of {ok, error, svg, marks, texts}.
'use strict';
const path = require('path');
const modules = path.resolve(__dirname, '..', '..', 'local', 'node_modules');
const vega = require(path.join(modules, 'vega'));
const vegaLite = require(path.join(modules, 'vega-lite'));

async function render(spec) {
  const warnings = [];
  const logger = {level() { return this; }, warn(...a) { warnings.push(a.join(' ')); return this; },
                  info() { return this; }, debug() { return this; }, error(...a) { throw new Error(a.join(' ')); }};
  const compiled = vegaLite.compile(spec, {logger}).spec;
  if (compiled.width === undefined || typeof compiled.width !== 'number') compiled.width = 600;
  if (compiled.height === undefined || typeof compiled.height !== 'number') compiled.height = 300;
  compiled.autosize = {type: 'pad'};
  const view = new vega.View(vega.parse(compiled), {renderer: 'none'});
  const svg = await view.toSVG();
  const scenegraph = view.scenegraph().root;
  let marks = 0;
  const texts = [];
  (function walk(node) {
    if (!node) return;
    if (node.marktype && node.items) {
      if (!(node.role || '').match(/axis|legend|title|frame|scope|root|background/)) marks += node.items.length;
      if (node.marktype === 'text' && !(node.role || '').match(/axis|legend|title/)) {
        for (const item of node.items) if (item.text !== undefined) texts.push(String(item.text));
      }
    }
    for (const item of node.items || []) walk(item);
  })(scenegraph);
  view.finalize();
  return {ok: true, svg, marks, texts, warnings};
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', async () => {
  const out = [];
  for (const spec of JSON.parse(input)) {
    try { out.push(await render(spec)); } catch (e) { out.push({ok: false, error: String(e && e.stack || e)}); }
  }
  process.stdout.write(JSON.stringify(out));
});
