// The web page of EXE serve in headless Chromium (puppeteer-core, scripts/install-puppeteer.sh):
// upload an image with the page's file picker; the bars appear, one per label, their widths and
// percentages those of POST /v1/predict on the same file; the Grad-CAM overlay appears when the
// server has /v1/explain, else the page says why quietly. A screenshot is kept.
// usage: node page.js EXE IMAGE SCREENSHOT.png NODE_MODULES CHROMIUM
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const [exe, imageArg, shot, modules, chromium] = process.argv.slice(2);
const image = path.resolve(imageArg); // Chromium's file picker takes no '..' in paths
let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.log('FAIL: ' + what);
  }
}

let puppeteer;
try {
  puppeteer = require(path.join(modules, 'puppeteer-core'));
} catch (e) {
  console.log('FAIL: puppeteer-core is not in ' + modules + ' (run scripts/install-puppeteer.sh)');
  process.exit(1);
}

function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(exe, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/serving on (http:\/\/127\.0\.0\.1:\d+)\n/);
      if (m) resolve({ proc: p, url: m[1] });
    });
    p.once('exit', (code) => reject(new Error('serve exited with ' + code + ' before listening: ' + out)));
  });
}

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'image/png' } });
  return { status: r.status, json: await r.json() };
}

async function main() {
  const { proc, url } = await startServer();
  const blob = fs.readFileSync(image);
  const want = (await post(url + '/v1/predict', blob)).json.predictions[0];
  const explain = await post(url + '/v1/explain', blob);
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 800 });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
    await page.goto(url + '/', { waitUntil: 'networkidle0' });
    check(/simple_cnn/.test(await page.$eval('#model', (e) => e.textContent)), 'the header does not name the model');
    const input = await page.$('#file');
    await input.uploadFile(image);
    await page.waitForSelector('#bars .bar', { timeout: 15000 });
    const bars = await page.$$eval('#bars .bar', (rows) => rows.map((r) => ({
      label: r.children[0].textContent, width: parseFloat(r.querySelector('.fill').style.width),
      text: r.children[2].textContent, top: r.classList.contains('top'),
    })));
    const labels = Object.keys(want.probabilities);
    check(bars.length === labels.length, 'bars: ' + bars.length + ' for ' + labels.length + ' labels');
    for (const b of bars) {
      const p = 100 * want.probabilities[b.label];
      check(Math.abs(b.width - p) < 0.051, 'bar ' + b.label + ': width ' + b.width + '%, /v1/predict says ' + p);
      check(b.text === p.toFixed(1) + '%', 'bar ' + b.label + ': text ' + b.text);
      check(b.top === (b.label === want.class), 'bar ' + b.label + ': highlighted ' + b.top);
    }
    check(bars.length && bars[0].label === want.class, 'the first bar is not the class ' + want.class);
    // The fixture's executable has an explain model: the overlay must appear.
    check(explain.status === 200, '/v1/explain answered ' + explain.status + ' ' + JSON.stringify(explain.json));
    await page.waitForSelector('#expl:not([hidden])', { timeout: 30000 });
    const w = await page.$eval('#overlay', (i) => i.complete && i.naturalWidth);
    check(w > 0, 'the overlay image did not load');
    check(errors.length === 0, 'page errors: ' + errors.join('; '));
    await page.screenshot({ path: shot });
    check(fs.statSync(shot).size > 1000, 'screenshot ' + shot + ' is empty');
  } finally {
    await browser.close();
    const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code === null ? sig : code)));
    proc.kill('SIGTERM');
    const code = await exited;
    check(code === 0, 'serve exited with ' + code + ' after SIGTERM');
  }
  console.log(failures ? 'FAIL: ' + failures + ' checks' : 'page: all checks passed, screenshot ' + shot);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log('FAIL: ' + e.stack);
  process.exit(1);
});
