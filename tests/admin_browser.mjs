// Drives the admin pages (https://HOST/admin) in a real browser: headless
// Chromium (Debian's /usr/bin/chromium) through playwright-core from
// target/nodedeps. Run by tests/admin_web.rs, which starts the servers and
// checks every effect afterwards over IMAP, SMTP and the CLI.
//
// Environment: BASE (https://127.0.0.1:PORT), ADMIN_PASSWORD, NEW_USER,
// NEW_PASSWORD, ALIAS, REMOTE_PORT, REMOTE_USER, REMOTE_PASSWORD, REMOTE_CA
// (a PEM file), SHOTS (screenshot directory), DOWNLOAD (where the backup
// goes), NODEDEPS. Prints `weight PATH BYTES` per page and `ok` at the end.
import { createRequire } from 'module';
import { readFileSync, mkdirSync } from 'fs';

const env = process.env;
const require = createRequire(env.NODEDEPS + '/');
const { chromium } = require('playwright-core');

const base = env.BASE;
mkdirSync(env.SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // root in a container has no user namespaces for Chromium's sandbox
  args: ['--no-sandbox'],
});
const context = await browser.newContext({
  ignoreHTTPSErrors: true, // the server's self-signed certificate
  acceptDownloads: true,
  viewport: { width: 1000, height: 700 },
});
const page = await context.newPage();

function fail(what) {
  console.error('FAILED: ' + what);
  process.exit(1);
}

// The flash line after a change must say `want`.
async function flash(want) {
  const text = (await page.textContent('#flash')) || '';
  if (!text.includes(want)) fail(`flash "${text}" lacks "${want}"`);
  console.log('flash: ' + text.split('\n')[0]);
}

// Fills and submits the form that holds `op`.
async function submit(op, fields, checks = {}) {
  const form = page.locator(`form:has(input[name=op][value="${op}"])`).first();
  for (const [name, value] of Object.entries(fields)) {
    await form.locator(`[name="${name}"]`).fill(value);
  }
  for (const [name, on] of Object.entries(checks)) {
    await form.locator(`[name="${name}"]`).setChecked(on);
  }
  await Promise.all([page.waitForLoadState('load'), form.locator('button').click()]);
}

// Log in as the administrator.
const login = await page.goto(base + '/admin/login');
console.log(`weight /admin/login ${(await login.body()).length} bytes`);
await page.screenshot({ path: env.SHOTS + '/login.png' });
await page.fill('input[name=password]', env.ADMIN_PASSWORD);
await Promise.all([page.waitForURL(base + '/admin'), page.click('button')]);

// A user, an alias, a fetch account (tested before it is kept).
await page.goto(base + '/admin/users');
await submit('add', { address: env.NEW_USER, password: env.NEW_PASSWORD, quota: '10M' });
await flash('added user ' + env.NEW_USER);

await page.goto(base + '/admin/domains');
await submit('alias-add', { source: env.ALIAS, targets: env.NEW_USER });
await flash(env.ALIAS + ' -> ' + env.NEW_USER);

await page.goto(base + '/admin/fetch');
await page.selectOption('select[name=security]', 'tls');
await submit('add', {
  local_user: env.NEW_USER,
  host: 'localhost',
  port: env.REMOTE_PORT,
  user: env.REMOTE_USER,
  password: env.REMOTE_PASSWORD,
  ca: readFileSync(env.REMOTE_CA, 'utf8'),
}, { test: true });
await flash('connected to');
await submit('run', {});
await flash('new message');

// The queue: flush.
await page.goto(base + '/admin/queue');
await submit('flush', {});
await flash('made due now');

// The backup download.
await page.goto(base + '/admin/backup');
const [download] = await Promise.all([
  page.waitForEvent('download'),
  page.locator('form:has(input[name=op][value=download]) button').click(),
]);
await download.saveAs(env.DOWNLOAD);
console.log('backup: ' + download.suggestedFilename());

// Every page: its weight (HTML; the CSS is inline, there is no script)
// and a screenshot.
const pages = [
  ['/admin', 'status'], ['/admin/users', 'users'], ['/admin/domains', 'domains'],
  ['/admin/fetch', 'fetch'], ['/admin/queue', 'queue'], ['/admin/dns', 'dns'],
  ['/admin/certs', 'certs'], ['/admin/backup', 'backup'], ['/admin/me', 'password'],
];
for (const [path, name] of pages) {
  const response = await page.goto(base + path);
  if (response.status() !== 200) fail(`${path}: ${response.status()}`);
  const body = await response.body();
  const scripts = await page.locator('script').count();
  console.log(`weight ${path} ${body.length} bytes (${scripts} scripts)`);
  if (path === '/admin') {
    // The test sent a message over SMTP before the browser started.
    const today = await page.locator('tr:has(th:text-is("Messages received today (UTC)")) td').textContent();
    if (!(Number(today) >= 1)) fail(`messages today: ${today}`);
  }
  await page.screenshot({ path: `${env.SHOTS}/${name}.png`, fullPage: true });
}

// Log out: the pages are closed again.
await page.goto(base + '/admin');
await Promise.all([page.waitForURL(base + '/admin/login'), page.click('header button')]);
const after = await page.goto(base + '/admin/users');
if (!after.url().endsWith('/admin/login')) fail('still in after logging out');

await browser.close();
console.log('ok');
