/**
 * `dora-ts graph`'s page as a browser shows it: headless Chromium loads the page (robot,
 * examples/pipeline, and a 6-node 15-edge graph with cycles) in a 1400x900 window, takes a
 * screenshot into the test's folder, and a probe script appended to a copy of the page reads the
 * drawing back from the DOM. The same rules as the Node-side layout tests then run on what was
 * rendered (no edge through a box, no label on another, cycle edges marked), plus what only a
 * browser can tell: after zooming and pressing "fit" everything is inside the window, and the
 * real text of every label and box fits the room the layout measured for it.
 *
 * Needs `chromium` (an external tool: skipped with the install command on a machine without it,
 * a failure in CI, where .ci/run installs it).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { loadDataflow } from '../../../../src/spec/load.js'
import { buildGraph } from '../../../../runtime/tools/graph/model.js'
import { renderGraphHtml } from '../../../../runtime/tools/graph/html.js'
import { haveTool } from '../../../fixtures/external-tool.js'
import { problems, type Drawing } from './fixtures/geometry.js'
import { ROOT } from '../../../fixtures/paths.js'

const GRAPHS = [
  ['robot', join(ROOT, 'dataflow.yml')],
  ['pipeline', join(ROOT, 'examples/pipeline/dataflow.yml')],
  ['rover', join(ROOT, 'test/runtime/tools/graph/fixtures/rover.yml')],
] as const

interface Probe {
  drawing: Drawing
  /** The viewBox after the page's script ran (fitted), after a wheel zoom, and after pressing "fit". */
  viewBox: { loaded: string; zoomed: string; fitted: string }
  /** Elements (after fit) whose box on screen is not inside the window or the graph's frame. */
  outside: string[]
  /** Texts whose rendered width does not fit the box or label the layout made for them. */
  overflowing: string[]
  window: { width: number; height: number }
}

/**
 * Appended to the page: exercise zoom and fit, then read every shape back in SVG units
 * (for the layout rules) and on screen (for the window), into <pre id="probe">.
 */
const PROBE = `<script>
(function () {
  var svg = document.getElementById('graph');
  var loaded = svg.getAttribute('viewBox');
  var r = svg.getBoundingClientRect();
  svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -400, clientX: r.left + r.width / 3, clientY: r.top + r.height / 3, bubbles: true, cancelable: true }));
  var zoomed = svg.getAttribute('viewBox');
  document.getElementById('fit').click();
  var fitted = svg.getAttribute('viewBox');
  function rect(el) { return { x: +el.getAttribute('x'), y: +el.getAttribute('y'), width: +el.getAttribute('width'), height: +el.getAttribute('height') }; }
  function points(d) {
    return d.trim().split(/\\s+/).map(function (p) { var xy = p.slice(1).split(','); return { x: +xy[0], y: +xy[1] }; });
  }
  var vb = fitted.split(' ').map(Number);
  var drawing = { width: vb[2], height: vb[3], units: [], containers: [], edges: [] };
  document.querySelectorAll('g.box').forEach(function (g) {
    var item = { key: g.dataset.key, rect: rect(g.querySelector('rect')) };
    (g.classList.contains('operators') ? drawing.containers : drawing.units).push(item);
  });
  var labels = document.querySelectorAll('g.labels g.label');
  document.querySelectorAll('g.edge').forEach(function (g, i) {
    drawing.edges.push({
      name: g.querySelector('title').textContent, from: g.dataset.from, to: g.dataset.to,
      back: g.classList.contains('back'), points: points(g.querySelector('path').getAttribute('d')),
      label: rect(labels[i].querySelector('rect')),
    });
  });
  var frame = document.querySelector('.canvas').getBoundingClientRect();
  var outside = [];
  document.querySelectorAll('g.box rect, g.label rect, g.edge path').forEach(function (el) {
    var b = el.getBoundingClientRect();
    var inWindow = b.left >= 0 && b.top >= 0 && b.right <= innerWidth && b.bottom <= innerHeight;
    var inFrame = b.left >= frame.left && b.top >= frame.top && b.right <= frame.right && b.bottom <= frame.bottom;
    if (!inWindow || !inFrame) outside.push(el.parentNode.querySelector('title, text').textContent + ' ' + JSON.stringify([b.left, b.top, b.right, b.bottom]));
  });
  var overflowing = [];
  document.querySelectorAll('g.box, g.label').forEach(function (g) {
    var room = rect(g.querySelector('rect'));
    g.querySelectorAll('text').forEach(function (text) {
      var b = text.getBBox();
      if (b.x < room.x - 0.5 || b.x + b.width > room.x + room.width + 0.5 || b.y < room.y - 0.5 || b.y + b.height > room.y + room.height + 0.5)
        overflowing.push(JSON.stringify(text.textContent) + ' needs ' + JSON.stringify([b.x, b.y, b.width, b.height]) + ', has ' + JSON.stringify(room));
    });
  });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({ drawing: drawing, viewBox: { loaded: loaded, zoomed: zoomed, fitted: fitted }, outside: outside, overflowing: overflowing, window: { width: innerWidth, height: innerHeight } });
  document.body.appendChild(out);
})();
</script>
</body>`

/** Run headless Chromium on `page`: a screenshot to `png`, and the DOM after the scripts ran. */
function chromium(page: string, png: string, profile: string, signal: AbortSignal): Promise<string> {
  const args = [
    '--headless',
    '--disable-gpu',
    '--hide-scrollbars',
    '--no-first-run',
    '--no-default-browser-check',
    `--user-data-dir=${profile}`,
    '--window-size=1400,900',
    `--screenshot=${png}`,
    '--dump-dom',
    pathToFileURL(page).href,
  ]
  // Chromium refuses to run as root with its sandbox on (containers, CI runners).
  if (process.getuid?.() === 0) args.unshift('--no-sandbox')
  return new Promise((resolve, reject) => {
    const child = spawn('chromium', args, { stdio: ['ignore', 'pipe', 'pipe'], signal })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`chromium exited with ${code}: ${err.slice(-2000)}`))))
  })
}

const unescapeHtml = (s: string): string => s.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!)

t.test('graph pages render readably in headless Chromium', async (t) => {
  if (!haveTool(t, { commands: ['chromium'], install: 'apt-get install chromium', purpose: 'the graph page as a browser renders it' })) return
  const dir = t.testdir()
  for (const [name, yaml] of GRAPHS) {
    t.test(name, async (t) => {
      const graph = buildGraph(await loadDataflow(yaml, { checkFiles: false }))
      const html = await renderGraphHtml(graph)
      const page = join(dir, `${name}.html`)
      writeFileSync(page, html.replace('</body>', PROBE))
      const png = join(dir, `${name}.png`)
      // A hang is the only thing this bounds; under load Chromium takes tens of seconds.
      const dom = await chromium(page, png, join(dir, `profile-${name}`), AbortSignal.timeout(300_000))
      const match = /<pre id="probe">([^<]*)<\/pre>/.exec(dom)
      if (match === null) {
        t.fail(`the probe wrote nothing; the DOM ends: ${dom.slice(-500)}`)
        return
      }
      const probe = JSON.parse(unescapeHtml(match[1]!)) as Probe

      t.equal(readFileSync(png).subarray(1, 4).toString('latin1'), 'PNG', `a screenshot: ${png}`)
      t.equal(probe.drawing.units.length, graph.boxes.flatMap((b) => b.units).length, 'every timer, node and operator is drawn')
      t.equal(probe.drawing.edges.length, graph.edges.length, 'every connection is drawn')
      t.same(problems(probe.drawing), [], 'as rendered: no edge through a box, no label on another, cycle edges run back')
      t.same(probe.drawing.edges.filter((e) => e.back).length, graph.edges.filter((e) => e.back).length, 'the edges closing a cycle are drawn as such')
      t.not(probe.viewBox.zoomed, probe.viewBox.loaded, 'the wheel zooms')
      t.equal(probe.viewBox.fitted, probe.viewBox.loaded, '"fit" shows the whole drawing again, as on load')
      t.same(probe.outside, [], `after fit everything is inside the ${probe.window.width}x${probe.window.height} window`)
      t.same(probe.overflowing, [], 'every text fits its box or label')
    })
  }
})
