/*
 * Drives the inspector page in headless Chromium through a real flow,
 * for tests/integration/inspect-browser.sh, which starts the programs and
 * passes:
 *
 *   INSPECT_URL   the inspector, http://127.0.0.1:PORT
 *   PUBLIC_URL    the tunnel's public URL, ending in /
 *   CHROMIUM      the browser (default /usr/bin/chromium)
 *   PROFILE_DIR   a new, empty directory for the browser's profile
 *   SHOT          where to write the screenshot (PNG)
 *   APPEAR_MS     how soon a request must show up (default 1000)
 *
 * Prints one line per check, "ok DESCRIPTION" or "not ok DESCRIPTION",
 * and "# ..." diagnostics; the shell script turns them into TAP.  Exits 0
 * when it ran to the end, 1 if it could not.
 */
"use strict";

const { chromium } = require("playwright-core");

const inspectUrl = process.env.INSPECT_URL;
const publicUrl = process.env.PUBLIC_URL;
const appearMs = Number(process.env.APPEAR_MS || 1000);

function ok(cond, what, diag) {
  console.log((cond ? "ok " : "not ok ") + what);
  if (!cond && diag) console.log("# " + String(diag).replace(/\n/g, "\n# "));
  return cond;
}

async function main() {
  const ctx = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 900 },
    timeout: 30000,
  });
  const errors = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(inspectUrl + "/", { waitUntil: "load" });
    ok(await page.title() === "tunnel-client inspector", "the page loads");
    await page.waitForSelector("#live.on", { timeout: 10000 });
    ok(true, "the page gets live updates");

    /* Some traffic for the list: a form, a binary response, a 404. */
    await fetch(publicUrl + "echo?form=1", { method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "user=ada&lang=en+GB" });
    await fetch(publicUrl + "binary");
    await fetch(publicUrl + "status/404");

    /* A webhook through the tunnel shows up within APPEAR_MS. */
    const hook = { event: "payment.succeeded", id: "evt_42", amount: 1999 };
    const t0 = Date.now();
    const res = await fetch(publicUrl + "echo?source=webhook", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(hook) });
    ok(res.status === 200, "the webhook passes through the tunnel");
    const row = 'tr.row:has(td.c-path:text-is("/echo?source=webhook"))';
    await page.waitForSelector(row + " .st.s2", { timeout: 10000 });
    const took = Date.now() - t0;
    ok(took <= appearMs, "the request appears in the inspector within " +
      appearMs + " ms (" + took + " ms)");

    /* A click shows it, with its body pretty-printed. */
    await page.click(row);
    const body = await page.waitForSelector(".card.request pre.body.json",
      { timeout: 5000 });
    const text = await body.textContent();
    ok(text.includes('"event": "payment.succeeded"') &&
      text.includes('"amount": 1999'), "the request body is shown, " +
      "pretty-printed", text);
    const hdr = await page.textContent(".card.request table.hdrs");
    ok(hdr.includes("Content-Type") && hdr.includes("application/json"),
      "the request headers are shown");
    const resp = await page.textContent(".card.response");
    ok(resp.includes("body_sha256"), "the response body is shown");
    const timing = await page.textContent("#detail .timing");
    ok(/total/.test(timing), "the timing is shown", timing);
    await page.screenshot({ path: process.env.SHOT.replace(/\.png$/,
      "-detail.png") });

    /* Replay gives a second entry, shown beside the first. */
    await page.click("#replay");
    await page.waitForSelector(".compare .st.s2", { timeout: 10000 });
    const n = await page.locator(row).count();
    ok(n === 2, "replay gives a second entry (" + n + " rows)");
    ok(await page.locator(row + " .tag").count() === 1,
      "the second entry is marked as a replay");
    const cmp = await page.textContent(".compare");
    ok(cmp.includes("Original response") && cmp.includes("Replay response"),
      "the new response is shown beside the old one");

    /* The binary response as hex. */
    await page.click('tr.row:has(td.c-path:text-is("/binary"))');
    const hex = await page.waitForSelector(".card.response pre.hex",
      { timeout: 5000 });
    ok((await hex.textContent()).startsWith("00000000  00 01 02 03"),
      "a binary body is shown as hex");
    await page.click('tr.row:has(td.c-path:text-is("/echo?form=1"))');
    const form = await page.waitForSelector(".card.request table.form",
      { timeout: 5000 });
    ok((await form.textContent()).includes("en GB"), "a form is decoded");

    /* Back to the webhook for the picture. */
    await page.click(row + " >> nth=1");
    await page.waitForSelector(".card.request pre.body.json", { timeout: 5000 });
    await page.click("#replay");
    await page.waitForSelector(".compare .st.s2", { timeout: 10000 });
    await page.screenshot({ path: process.env.SHOT, fullPage: false });
    ok(true, "screenshot " + process.env.SHOT);
    ok(errors.length === 0, "no script errors on the page", errors.join("\n"));
  } finally {
    await ctx.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.log("not ok the browser flow ran to the end");
  console.log("# " + String(e && e.stack || e).replace(/\n/g, "\n# "));
  process.exit(1);
});
