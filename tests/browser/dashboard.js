// The dashboard in headless Chromium, driven by playwright-core: log in
// with a wrong key and then the admin key, find the tunnel with its owner,
// state, agent address and uptime bar, take a screenshot, and delete a
// second tunnel with the two-step button.  Run by
// tests/integration/dashboard-browser.sh, which starts the servers.
//
// usage: node dashboard.js SERVER_URL ADMIN_KEY TUNNEL_ID DOOMED_ID SHOT.png
// Each check prints "ok DESCRIPTION" or "not ok DESCRIPTION" on a line;
// "diag TEXT" lines are diagnostics.  Exit status 0 when it got to the end.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const [server, adminKey, tunnelId, doomedId, shot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const failures = [];

function report(good, what, detail) {
	console.log((good ? "ok " : "not ok ") + what);
	if (!good) {
		failures.push(what);
		if (detail)
			console.log("diag " + String(detail).replace(/\n/g, " | "));
	}
}

async function check(what, fn) {
	try {
		const r = await fn();
		report(r !== false, what, r === false ? "false" : "");
	} catch (e) {
		report(false, what, e.message);
	}
}

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "dash-chromium-"));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath,
		headless: true,
		viewport: { width: 1400, height: 760 },
		args: ["--headless", "--no-sandbox", "--disable-gpu",
		    "--disable-quic", "--no-first-run",
		    "--disable-background-networking",
		    "--disable-component-update", "--disable-sync"],
	});
	const errors = [];
	try {
		const page = ctx.pages()[0] || await ctx.newPage();
		page.setDefaultTimeout(15000);
		page.on("console", (m) => {
			if (m.type() === "error")
				errors.push(m.text());
		});
		page.on("pageerror", (e) => errors.push(e.message));

		await page.goto(server + "/dashboard");
		await check("the login form is shown", async () =>
		    page.locator("#login input[name=key]").isVisible());
		await check("the tunnel table is not", async () =>
		    !(await page.locator("#app").isVisible()));

		await page.fill("#login input[name=key]", "not-the-admin-key-0000");
		await page.click("#login button[type=submit]");
		await page.waitForLoadState();
		await check("a wrong key: the form says so", async () =>
		    /not the admin key/.test(await page.textContent("#loginmsg")));

		await page.screenshot({ path: shot.replace(/\.png$/, "-login.png") });
		errors.length = 0;	/* the 401 of the wrong key is expected */
		await page.fill("#login input[name=key]", adminKey);
		await Promise.all([page.waitForURL(/\/dashboard\?login=1$/),
		    page.click("#login button[type=submit]")]);
		const row = page.locator(`tr[data-tunnel="${tunnelId}"]`);
		await row.waitFor();
		await check("the dashboard lists the tunnel", async () =>
		    (await row.locator("td.id .name").textContent()).startsWith(
		    tunnelId));
		await check("with its owner", async () =>
		    (await row.locator("td").nth(1).textContent()) === "tests");
		await check("connected, with the agent's address", async () =>
		    /connected\s*127\.0\.0\.1/.test(
		    await row.locator("td.state").textContent()));
		await check("the uptime bar has 90 bars", async () =>
		    (await row.locator(".beat i").count()) === 90);
		await page.waitForFunction((id) => {
			const r = document.querySelector(`tr[data-tunnel="${id}"]`);
			return r && r.querySelectorAll(".beat i.up").length > 0;
		}, tunnelId, { timeout: 20000 }).catch(() => {});
		await check("and at least one of them is green", async () =>
		    (await row.locator(".beat i.up").count()) > 0);
		await check("each bar says when and how much", async () =>
		    /connected|no data/.test(await row.locator(".beat i").last()
		    .getAttribute("title")));
		await check("the client command to copy", async () =>
		    (await page.textContent("#cmd")).startsWith(
		    "tunnel-client --server " + server + " --api-key YOUR_API_KEY"));
		await page.fill("#c-name", "my-app");
		await page.fill("#c-port", "8000");
		await check("follows the name and port fields", async () =>
		    (await page.textContent("#cmd")).endsWith(
		    "--subdomain my-app 8000"));
		await check("no session cookie for scripts (HttpOnly)", async () =>
		    !(await page.evaluate(() => document.cookie))
		    .includes("tunneld_session"));
		const cookies = await ctx.cookies(server);
		const sc = cookies.find((c) => c.name === "tunneld_session");
		await check("the browser keeps the cookie: HttpOnly, Strict",
		    async () => sc && sc.httpOnly && sc.sameSite === "Strict" &&
		    sc.path === "/dashboard");

		await page.screenshot({ path: shot, fullPage: true });
		await check("a screenshot was taken", async () =>
		    fs.statSync(shot).size > 10000);

		const doomed = page.locator(`tr[data-tunnel="${doomedId}"]`);
		const del = doomed.locator("button", { hasText: "Delete" });
		await del.click();
		await check("delete asks once more", async () =>
		    (await doomed.locator("button.armed").textContent()) ===
		    "Really delete?");
		await doomed.locator("button.armed").click();
		await doomed.waitFor({ state: "detached" });
		await check("the deleted tunnel leaves the list", async () =>
		    (await page.locator(`tr[data-tunnel="${doomedId}"]`).count()) ===
		    0);
		await check("the other one stays", async () =>
		    (await row.count()) === 1);

		await Promise.all([page.waitForLoadState(),
		    page.click("#logout")]);
		await page.locator("#login input[name=key]").waitFor();
		await check("log out: the login form again", async () =>
		    page.locator("#login input[name=key]").isVisible());
		await check("... with no message", async () =>
		    (await page.textContent("#loginmsg")) === "");
		await check("no errors in the console (CSP included)", async () => {
			if (errors.length > 0)
				throw new Error(errors.join("; "));
			return true;
		});
	} finally {
		await ctx.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
}

main().then(() => process.exit(0), (e) => {
	console.log("not ok the browser run finished");
	console.log("diag " + String(e && e.stack || e).replace(/\n/g, " | "));
	process.exit(1);
});
