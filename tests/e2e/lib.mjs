// What the headless-browser tests of the chat sample share: the browser, child processes
// on free loopback ports (wharf-chat, redis-server), and the page helpers.
// Exit status of a test: 0 passed, 1 failed, 77 skipped (no Chromium or no node_modules).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export const stepTimeoutMs = 10_000;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                      '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function skip(why) {
    console.log(`SKIPPED: ${why}`);
    process.exit(77);
}

export function log(line) {
    console.log(`e2e: ${line}`);
}

/// The wharf-chat binary named on the command line (or by WHARF_CHAT); exits 1 without one.
export function chatBinary() {
    const path = process.argv[2] ?? process.env.WHARF_CHAT;
    if (!path || !existsSync(path)) {
        console.error(`e2e: usage: node ${process.argv[1]} /path/to/wharf-chat (got '${path ?? ''}')`);
        process.exit(1);
    }
    return path;
}

/// Launches headless Chromium through playwright-core, or skips the test without them.
export async function launchBrowser() {
    if (!existsSync(chromiumPath)) {
        skip(`no Chromium at ${chromiumPath} (apt-get install chromium, or run scripts/run-tests.sh)`);
    }
    let chromium;
    try {
        ({ chromium } = await import('playwright-core'));
    } catch (error) {
        skip(`playwright-core is not installed (cd tests/e2e && npm ci): ${error.message}`);
    }
    return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: stepTimeoutMs });
}

/// A loopback port nobody listens on right now.
export async function freePort() {
    const probe = createServer();
    await new Promise((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    return port;
}

/// A child process this test started: its stderr is kept, `exit` resolves to {code, signal}.
export class Child {
    constructor(name, path, args) {
        this.name = name;
        this.stderr = '';
        this.process = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        this.exit = new Promise((resolve) => {
            this.process.once('exit', (code, signal) => resolve({ code, signal }));
            this.process.once('error', (error) => resolve({ code: null, signal: null, error }));
        });
        this.process.stderr.setEncoding('utf8');
        this.process.stderr.on('data', (chunk) => { this.stderr += chunk; });
        this.lines = createInterface({ input: this.process.stdout });
    }

    running() {
        return this.process.exitCode === null && this.process.signalCode === null;
    }

    /// Resolves to the first match of `pattern` in a line of its stdout.
    waitForLine(pattern) {
        return new Promise((resolve, reject) => {
            this.lines.on('line', (line) => {
                log(`${this.name} says: ${line}`);
                const match = pattern.exec(line);
                if (match) resolve(match);
            });
            this.exit.then(({ code, signal }) =>
                reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) too early:\n${this.stderr}`)));
            setTimeout(() => reject(new Error(`${this.name} printed no ${pattern} within 10 s`)), stepTimeoutMs);
        });
    }

    /// SIGTERM, then the exit status (null when it did not exit within 10 s).
    async stop() {
        this.process.kill('SIGTERM');
        return Promise.race([this.exit, new Promise((resolve) => setTimeout(() => resolve(null), stepTimeoutMs))]);
    }

    async kill() {
        if (this.running()) {
            this.process.kill('SIGKILL');
            await this.exit;
        }
    }
}

/// wharf-chat on `port` (a free one when omitted; the chat lets pages open its WebSocket
/// only from its configured port's origins, so --port 0 would refuse the page). Resolves to
/// {child, url, port}. A start that lost the port to another process is retried.
export async function startChat(binary, extraArgs = [], port = null) {
    for (let attempt = 1; ; ++attempt) {
        const p = port ?? await freePort();
        const child = new Child(`wharf-chat:${p}`, binary,
                                ['--port', String(p), '--host', '127.0.0.1', '--threads', '2', ...extraArgs]);
        try {
            const match = await child.waitForLine(/open http:\/\/[^\s/]+:(\d+)\/ in your browser/);
            return { child, url: `http://127.0.0.1:${match[1]}/`, port: p };
        } catch (error) {
            await child.kill();
            if (port !== null || attempt === 3 || !child.stderr.includes('already in use')) throw error;
            log('the port was taken before wharf-chat bound it; trying another');
        }
    }
}

// --- The page ------------------------------------------------------------------------

/// The texts of a page's ul#messages items.
export function messagesOf(page) {
    return page.$$eval('#messages li', (items) => items.map((li) => li.textContent));
}

/// Waits until the page shows every one of `texts` as an li of ul#messages.
export async function waitForMessages(page, name, texts) {
    try {
        await page.waitForFunction((wanted) => {
            const shown = new Set([...document.querySelectorAll('#messages li')].map((li) => li.textContent));
            return wanted.every((text) => shown.has(text));
        }, texts, { timeout: stepTimeoutMs });
    } catch (error) {
        throw new Error(`${name}'s page never showed ${JSON.stringify(texts)}; it shows ` +
                        `${JSON.stringify(await messagesOf(page).catch(() => []))}`);
    }
}

/// Waits until the page shows a line that starts with `prefix`.
export async function waitForPrefix(page, name, prefix) {
    try {
        await page.waitForFunction((p) =>
            [...document.querySelectorAll('#messages li')].some((li) => li.textContent.startsWith(p)),
        prefix, { timeout: stepTimeoutMs });
    } catch (error) {
        throw new Error(`${name}'s page never showed a line starting ${JSON.stringify(prefix)}; it shows ` +
                        `${JSON.stringify(await messagesOf(page).catch(() => []))}`);
    }
}

/// Types `text` into #m and presses the form's button, as a user would.
export async function send(page, text) {
    await page.fill('#m', text);
    await page.click('#send');
}

/// Opens the chat page at `url` in a fresh browser context; resolves once it is connected
/// and shows its node.
export async function openChat(browser, url, name) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`e2e: ${name}'s page threw: ${error.message}`));
    const response = await page.goto(url, { timeout: stepTimeoutMs });
    if (!response || response.status() !== 200) {
        throw new Error(`GET ${url} answered ${response ? response.status() : 'nothing'}`);
    }
    await page.waitForSelector('#m:not([disabled])', { timeout: stepTimeoutMs });
    // The server's first line names the node; the page shows it in its header.
    await page.waitForFunction(() => document.getElementById('node').textContent.startsWith('node: '), null,
                               { timeout: stepTimeoutMs });
    const placeholder = await page.getAttribute('#m', 'placeholder');
    if (placeholder !== 'your name') {
        throw new Error(`the input asks for '${placeholder}' before the first send, not 'your name'`);
    }
    return page;
}

/// Runs `main` with an overall watchdog; `cleanup` runs either way; prints the verdict and
/// exits with the test's status.
export async function runTest(title, overallTimeoutMs, main, cleanup, diagnostics) {
    const watchdog = setTimeout(async () => {
        console.error(`e2e: FAILED: no result after ${overallTimeoutMs / 1000} s`);
        console.error(diagnostics());
        await Promise.race([cleanup(), new Promise((resolve) => setTimeout(resolve, 5000))]);
        process.exit(1);
    }, overallTimeoutMs);
    let failed = false;
    try {
        await main();
    } catch (error) {
        failed = true;
        console.error(`e2e: FAILED: ${error.message}`);
        console.error(diagnostics());
    }
    await cleanup();
    clearTimeout(watchdog);
    if (!failed) console.log(`e2e: PASSED: ${title}`);
    process.exit(failed ? 1 : 0);
}
