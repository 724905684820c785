// End-to-end test of the browser build (run by `tools/web.sh test`):
//   node tests/web/e2e.mjs DIST_DIR OUT_DIR
// Serves DIST_DIR on localhost and drives it in Debian's headless Chromium twice: on WebGPU
// (SwiftShader) and without WebGPU, where the app must fall back to the CPU. Each run waits for
// the model, opens a generated scene with "New scene", asks how many of one of its shapes there
// are, checks the answer against the scene's ground truth, clicks the answer's first token and
// checks that an overlay changed the image's pixels; then asks a second question (the shape's
// colour), exports the overlay as a PNG download, pastes and drops that PNG, and empties the
// page's model store from the model panel. Screenshots and a timings JSON go to OUT_DIR.
//
// The app draws on a canvas; the page mirrors its state in `window.gvtLens` (model, device,
// ground truth, conversation, and the main controls by accessible label with their rectangles),
// which is how this test finds what to click and what to check.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

// playwright-core lives with the other web tools, outside the clone (tools/web.sh setup).
const tools = process.env.GVT_WEB_TOOLS ?? path.join(os.homedir(), '.cache/gvt-lens/web-tools');
const { chromium } = createRequire(path.join(tools, 'package.json'))('playwright-core');

const [dist, out] = process.argv.slice(2);
if (!dist || !out) {
  console.error('usage: node tests/web/e2e.mjs DIST_DIR OUT_DIR');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

// The first "New scene" of each run; any seed works, the expected answer comes from the
// scene's own ground truth.
const SEED = 4;
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const ALL_RUNS = [
  {
    name: 'webgpu',
    // WebGPU on SwiftShader, with the canvas rendered through it too (stack-notes).
    flags: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-vulkan=swiftshader',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
    expectGpu: true,
  },
  {
    name: 'cpu-fallback',
    // No WebGPU at all: the app must say why and run on the CPU (the canvas uses WebGL2).
    flags: ['--disable-features=WebGPU,Vulkan'],
    expectGpu: false,
  },
];

// GVT_E2E_RUNS=webgpu (or cpu-fallback) runs only that one.
const RUNS = ALL_RUNS.filter(
  (r) => !process.env.GVT_E2E_RUNS || process.env.GVT_E2E_RUNS.split(',').includes(r.name),
);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gguf': 'application/octet-stream',
};

function serve(root) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let file = path.join(root, decodeURIComponent(url.pathname));
    if (!file.startsWith(path.resolve(root))) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': data.length,
      });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const fail = (message) => {
  throw new Error(message);
};

async function cachedUrls(page) {
  return page.evaluate(async () => {
    const cache = await caches.open('gvt-lens-models');
    return (await cache.keys()).map((r) => r.url);
  });
}

async function state(page) {
  return page.evaluate(() => window.gvtLens ?? null);
}

const frames = (page, n) =>
  page.evaluate(
    (n) =>
      new Promise((resolve) => {
        const next = (k) => (k === 0 ? resolve() : requestAnimationFrame(() => next(k - 1)));
        next(n);
      }),
    n,
  );

// Where a control is, in page pixels, once it has stopped moving (a panel that just opened
// is laid out again in its second frame).
async function control(page, label) {
  let previous = null;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const c = await page.evaluate(
      (label) => window.gvtLens?.controls.find((c) => c.label === label) ?? null,
      label,
    );
    if (c && previous && ['x', 'y', 'width', 'height'].every((k) => c[k] === previous[k])) {
      const canvas = await page.locator('#gvt_canvas').boundingBox();
      return { ...c, x: canvas.x + c.x, y: canvas.y + c.y };
    }
    previous = c;
    await frames(page, 2);
    await page.waitForTimeout(100);
  }
  fail(`no control "${label}" on screen`);
}

async function click(page, label) {
  const c = await control(page, label);
  await page.mouse.click(c.x + c.width / 2, c.y + c.height / 2);
}

// Clicks a text field and waits until it has the keyboard focus.
async function focus(page, label) {
  await click(page, label);
  await page.waitForFunction(
    (label) => window.gvtLens?.controls.find((c) => c.label === label)?.focused,
    label,
    { timeout: 30_000 },
  );
}

// Mean absolute difference per channel (0-255) between two PNG screenshots, and the share of
// pixels that changed, computed by the browser's own PNG decoder.
async function pixelDifference(page, a, b) {
  return page.evaluate(
    async ([a, b]) => {
      const load = async (base64) => {
        const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
        const bitmap = await createImageBitmap(blob);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d');
        ctx.drawImage(bitmap, 0, 0);
        return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      };
      const [x, y] = [await load(a), await load(b)];
      let sum = 0;
      let changed = 0;
      for (let i = 0; i < x.length; i += 4) {
        const d =
          Math.abs(x[i] - y[i]) + Math.abs(x[i + 1] - y[i + 1]) + Math.abs(x[i + 2] - y[i + 2]);
        sum += d / 3;
        if (d > 30) changed += 1;
      }
      return { mean: sum / (x.length / 4), changed: changed / (x.length / 4) };
    },
    [a.toString('base64'), b.toString('base64')],
  );
}

// Types `question` into the question box, sends it with Enter and waits for the answer.
async function ask(page, question) {
  const before = (await state(page)).document.turns.length;
  await focus(page, 'Question');
  await page.keyboard.press('Control+A');
  // One input event: typing key by key costs a frame per key, slow on a software renderer.
  await page.keyboard.insertText(question);
  await frames(page, 2);
  // The page's frames while it answers: when each began, from the key press.
  await page.evaluate(() => {
    window.__answerFrames = [];
    window.__asked = performance.now();
    const tick = (t) => {
      window.__answerFrames.push(Math.round(t - window.__asked));
      if (window.__answerFrames.length < 50) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const asked = Date.now();
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    (before) => {
      const turns = window.gvtLens?.document?.turns ?? [];
      return turns.length > before && turns.at(-1).state !== 'streaming';
    },
    before,
    // Checked every 10 ms, not on animation frames: the app publishes the answer in the
    // update of the frame that paints it, and a check queued on frames ran before that
    // update and saw it only a frame later (150 ms on this software renderer).
    { timeout: 180_000, polling: 10 },
  );
  const ms = Date.now() - asked;
  const frameTimes = await page.evaluate(() => window.__answerFrames.filter((t) => t >= 0));
  const turn = (await state(page)).document.turns.at(-1);
  if (turn.state !== 'done') fail(`the answer to "${question}" failed: ${turn.error}`);
  if (turn.question !== question) fail(`asked "${turn.question}", not "${question}"`);
  return { turn, ms, frameTimes: frameTimes.filter((t) => t <= ms) };
}

async function run(baseUrl, spec) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gvt-e2e-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...BASE_FLAGS, ...spec.flags],
    viewport: { width: 1280, height: 800 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`  [${spec.name} console] ${m.text()}`);
  });
  const result = { run: spec.name };
  try {
    const started = Date.now();
    await page.goto(`${baseUrl}/index.html?seed=${SEED}`);
    await page.waitForFunction(() => window.gvtLens?.model && !window.gvtLens.loading, null, {
      timeout: 120_000,
    });
    result.modelReadyMs = Date.now() - started;
    const ready = await state(page);
    result.device = ready.model.device;
    result.fallbackReason = ready.model.fallbackReason;
    if (ready.model.gpu !== spec.expectGpu) {
      fail(`expected ${spec.expectGpu ? 'the GPU' : 'the CPU'}, the app runs on ${ready.model.device}`);
    }
    if (!spec.expectGpu && !ready.model.fallbackReason) {
      fail('the CPU fallback gives no reason');
    }

    // The default model was downloaded into the page's model store, whole.
    await page.waitForFunction(() => window.gvtLens?.stored.length > 0, null, { timeout: 30_000 });
    const modelBytes = fs.statSync(path.join(dist, 'gvt-tiny.gguf')).size;
    const listed = (await state(page)).stored;
    if (!listed.some((m) => m.name === 'gvt-tiny.gguf' && m.bytes === modelBytes)) {
      fail(`the model panel lists ${JSON.stringify(listed)}, not gvt-tiny.gguf of ${modelBytes} bytes`);
    }
    if ((await cachedUrls(page)).filter((u) => u.includes('/gvt-tiny.gguf?v=')).length !== 1) {
      fail(`the default model is not in the page's store: ${await cachedUrls(page)}`);
    }
    // A reload reads it from the store: the network copy is blocked.
    await page.route('**/gvt-tiny.gguf*', (route) => route.abort());
    const reloaded = Date.now();
    await page.reload();
    await page.waitForFunction(() => window.gvtLens?.model && !window.gvtLens.loading, null, {
      timeout: 120_000,
    });
    result.readyFromStoreMs = Date.now() - reloaded;
    const again = await state(page);
    if (again.error) fail(`loading from the store failed: ${again.error}`);
    await page.unroute('**/gvt-tiny.gguf*');

    await click(page, 'New scene');
    await page.waitForFunction(() => window.gvtLens?.document?.groundTruth, null, { timeout: 30_000 });
    const doc = (await state(page)).document;
    const target = doc.groundTruth[0];
    const expected = doc.groundTruth.filter((o) => o.shape === target.shape).length;
    const question = `How many ${target.plural} are there in the image?`;
    result.scene = doc.name;
    result.question = question;
    result.groundTruth = expected;

    const first = await ask(page, question);
    result.firstAnswerMs = Date.now() - started;
    result.answerMs = first.ms;
    result.answer = first.turn.answer;
    result.timings = first.turn.timings;
    result.frameTimes = first.frameTimes;
    if (first.turn.answer.trim() !== String(expected)) {
      fail(`answered "${first.turn.answer}" to "${question}"; the ground truth is ${expected}`);
    }

    const image = await control(page, 'Image');
    const clip = { x: image.x, y: image.y, width: image.width, height: image.height };
    const plain = await page.screenshot({ clip });
    if ((await state(page)).overlay) fail('an overlay is on screen before any token was clicked');
    await click(page, `Answer token 1: ${expected}`);
    await page.waitForFunction(() => window.gvtLens?.overlay, null, { timeout: 30_000 });
    // Two frames: the overlay texture is drawn in the frame after the click.
    await page.evaluate(
      () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
    );
    const withOverlay = await page.screenshot({ clip });
    result.overlayDifference = await pixelDifference(page, plain, withOverlay);
    if (result.overlayDifference.changed < 0.05) {
      fail(`the overlay changed only ${(100 * result.overlayDifference.changed).toFixed(1)}% of the image's pixels`);
    }
    await page.screenshot({ path: path.join(out, `${spec.name}.png`) });

    // Export PNG: a download of the overlay at full resolution (rfd asks where, in the page).
    await click(page, 'Export PNG');
    const link = page.locator('#rfd-overlay a');
    await link.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const exported = path.join(out, `${spec.name}-export.png`);
    await download.saveAs(exported);
    const png = fs.readFileSync(exported);
    if (png.subarray(1, 4).toString() !== 'PNG' || png.readUInt32BE(16) < 128) {
      fail(`the export is not a full-size PNG (${png.length} bytes)`);
    }
    result.exportBytes = png.length;

    // A second question, with the kernels compiled: the colour of a shape there is one of.
    if (expected === 1) {
      const second = await ask(page, `What color is the ${target.shape}?`);
      result.secondAnswerMs = second.ms;
      result.secondAnswer = second.turn.answer;
      result.secondTimings = second.turn.timings;
      if (second.turn.answer.trim() !== target.color) {
        fail(`answered "${second.turn.answer}" to the colour question; the ground truth is ${target.color}`);
      }
    }
    // A small probe on the page: the count sweep at level 2 only, ten scenes.
    await click(page, 'Probe');
    await focus(page, 'Probe levels');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('2');
    await page.keyboard.press('Enter');
    await frames(page, 2);
    const probing = Date.now();
    await click(page, 'Run probe');
    await page.waitForFunction(() => window.gvtLens?.probe && !window.gvtLens.probe.running, null, {
      timeout: 300_000,
    });
    const probe = (await state(page)).probe;
    result.probeMs = Date.now() - probing;
    result.probe = probe;
    if (probe.error) fail(`the probe failed: ${probe.error}`);
    if (probe.answered !== 10 || probe.levels.length !== 1 || probe.levels[0].n !== 10) {
      fail(`the probe asked ${JSON.stringify(probe)}, not 10 scenes of level 2`);
    }
    await control(page, 'Probe curve');
    await click(page, 'Probe');

    // Ctrl+V with an image on the clipboard, and a dropped image file: both open the image.
    const exportedPng = png.toString('base64');
    await page.evaluate(async (base64) => {
      const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'clipboard.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
    }, exportedPng);
    await page.waitForFunction(() => window.gvtLens?.document?.name === 'Pasted image', null, {
      timeout: 30_000,
    });
    await page.evaluate(async (base64) => {
      const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
      const canvas = document.getElementById('gvt_canvas');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        canvas.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      }
    }, exportedPng);
    await page.waitForFunction(() => window.gvtLens?.document?.name === 'dropped.png', null, {
      timeout: 30_000,
    });
    if ((await state(page)).document.groundTruth !== null) fail('a dropped photo has no ground truth');

    // The model panel empties the store.
    await click(page, 'Model');
    await click(page, 'Clear stored models');
    await page.waitForFunction(() => window.gvtLens?.stored.length === 0, null, { timeout: 30_000 });
    if ((await cachedUrls(page)).length !== 0) fail('"Clear stored models" left models in the store');

    if (problems.length) fail(problems.join('\n'));
    result.passed = true;
  } catch (error) {
    result.passed = false;
    result.error = error.message;
    await page.screenshot({ path: path.join(out, `${spec.name}-failed.png`) }).catch(() => {});
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return result;
}

const server = await serve(path.resolve(dist));
const baseUrl = `http://127.0.0.1:${server.address().port}`;
const results = [];
for (const spec of RUNS) {
  const result = await run(baseUrl, spec);
  results.push(result);
  console.log(`${result.passed ? 'ok  ' : 'FAIL'} ${spec.name}: ${JSON.stringify(result)}`);
}
server.close();
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 2));
process.exit(results.every((r) => r.passed) ? 0 : 1);
