// End-to-end test of the wharf-chat sample in headless Chromium.
//
//   node chat.e2e.mjs /path/to/wharf-chat
//
// Starts wharf-chat on a free port (chosen here: the chat lets pages open its WebSocket
// only from the origins of its configured port, so --port 0 would refuse the page),
// opens the page twice (alice and bob), checks that it shows its node, chats, checks
// that messages arrive as text (not markup), that leaving is announced, that rooms are apart (carol opens ?room=games, dave
// gets there with the page's room form; the lobby hears nothing of it), and that SIGTERM
// stops the server gracefully (clients see 1001, the process exits 0).
// Exit status: 0 passed, 1 failed, 77 skipped (no Chromium or no node_modules).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const overallTimeoutMs = 60_000;
const stepTimeoutMs = 10_000;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                      '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function skip(why) {
    console.log(`SKIPPED: ${why}`);
    process.exit(77);
}

function log(line) {
    console.log(`e2e: ${line}`);
}

const serverPath = process.argv[2] ?? process.env.WHARF_CHAT;
if (!serverPath || !existsSync(serverPath)) {
    console.error(`e2e: usage: node chat.e2e.mjs /path/to/wharf-chat (got '${serverPath ?? ''}')`);
    process.exit(1);
}
if (!existsSync(chromiumPath)) {
    skip(`no Chromium at ${chromiumPath} (apt-get install chromium, or run scripts/run-tests.sh)`);
}
let chromium;
try {
    ({ chromium } = await import('playwright-core'));
} catch (error) {
    skip(`playwright-core is not installed (cd tests/e2e && npm ci): ${error.message}`);
}

let server = null;
let serverExit = null;      // resolves to {code, signal} when the server process ends
let serverStderr = '';
let browser = null;

async function cleanup() {
    if (browser) await browser.close().catch(() => {});
    browser = null;
    if (server && server.exitCode === null && server.signalCode === null) {
        server.kill('SIGKILL');
        await serverExit;
    }
}

const watchdog = setTimeout(async () => {
    console.error(`e2e: FAILED: no result after ${overallTimeoutMs / 1000} s`);
    if (serverStderr) console.error(`e2e: wharf-chat stderr:\n${serverStderr}`);
    await Promise.race([cleanup(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    process.exit(1);
}, overallTimeoutMs);

// A loopback port nobody listens on right now.
async function freePort() {
    const probe = createServer();
    await new Promise((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    return port;
}

// Starts wharf-chat on a free port; resolves to the URL it prints. A start that lost the
// port to another process in the meantime is retried.
async function startServer() {
    for (let attempt = 1; ; ++attempt) {
        try {
            return await startServerOn(await freePort());
        } catch (error) {
            if (attempt === 3 || !serverStderr.includes('already in use')) throw error;
            log(`the port was taken before wharf-chat bound it; trying another`);
            serverStderr = '';
        }
    }
}

async function startServerOn(port) {
    server = spawn(serverPath, ['--port', String(port), '--host', '127.0.0.1', '--threads', '2'],
                   { stdio: ['ignore', 'pipe', 'pipe'] });
    serverExit = new Promise((resolve) => {
        server.once('exit', (code, signal) => resolve({ code, signal }));
        server.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => { serverStderr += chunk; });
    const lines = createInterface({ input: server.stdout });
    const url = new Promise((resolve, reject) => {
        lines.on('line', (line) => {
            log(`wharf-chat says: ${line}`);
            const match = /open http:\/\/[^\s/]+:(\d+)\/ in your browser/.exec(line);
            if (match) resolve(`http://127.0.0.1:${match[1]}/`);
        });
        serverExit.then(({ code, signal }) =>
            reject(new Error(`wharf-chat exited (code ${code}, signal ${signal}) before listening:\n${serverStderr}`)));
        setTimeout(() => reject(new Error('wharf-chat printed no URL within 10 s')), stepTimeoutMs);
    });
    return url;
}

// The texts of a page's ul#messages items.
function messagesOf(page) {
    return page.$$eval('#messages li', (items) => items.map((li) => li.textContent));
}

// Waits until the page shows every one of `texts` as an li of ul#messages.
async function waitForMessages(page, name, texts) {
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

async function waitForPrefix(page, name, prefix) {
    try {
        await page.waitForFunction((p) =>
            [...document.querySelectorAll('#messages li')].some((li) => li.textContent.startsWith(p)),
        prefix, { timeout: stepTimeoutMs });
    } catch (error) {
        throw new Error(`${name}'s page never showed a line starting ${JSON.stringify(prefix)}; it shows ` +
                        `${JSON.stringify(await messagesOf(page).catch(() => []))}`);
    }
}

// Types `text` into #m and presses the form's button, as a user would.
async function send(page, text) {
    await page.fill('#m', text);
    await page.click('#send');
}

async function openChat(url, name) {
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

async function main() {
    const url = await startServer();
    log(`server at ${url}`);

    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: stepTimeoutMs });
    const alice = await openChat(url, 'alice');
    const bob = await openChat(url, 'bob');

    await send(alice, 'alice');
    await waitForMessages(alice, 'alice', ['* alice joined']);
    // A refused name is answered to bob alone, and the page keeps asking for a name.
    await send(bob, '*bob');
    await waitForMessages(bob, 'bob', ["* name not accepted: names cannot start with '*'"]);
    if (await bob.getAttribute('#m', 'placeholder') !== 'your name') {
        throw new Error('after a refused name the input no longer asks for a name');
    }
    await send(bob, 'bob');
    await waitForMessages(alice, 'alice', ['* bob joined']);
    await waitForMessages(bob, 'bob', ['* bob joined']);
    log('both joined');
    if (await alice.getAttribute('#m', 'placeholder') === 'your name') {
        throw new Error('the input still asks for a name after the name was accepted');
    }

    await send(alice, 'hello from alice');
    await send(bob, 'hi alice');
    const chat = ['alice: hello from alice', 'bob: hi alice'];
    await waitForMessages(alice, 'alice', chat);
    await waitForMessages(bob, 'bob', chat);
    log('messages reached both pages');

    await send(alice, '<b>x</b>');
    await waitForMessages(alice, 'alice', ['alice: <b>x</b>']);
    await waitForMessages(bob, 'bob', ['alice: <b>x</b>']);
    for (const [name, page] of [['alice', alice], ['bob', bob]]) {
        const bold = await page.$$eval('#messages b', (elements) => elements.length);
        if (bold !== 0) throw new Error(`${name}'s page turned a message into ${bold} <b> element(s)`);
    }
    log('markup arrives as literal text');

    await bob.context().close();
    await waitForMessages(alice, 'alice', ['* bob left']);
    log('leaving is announced');

    // Rooms: carol opens ?room=games directly, dave reaches it through the room form.
    const carol = await openChat(`${url}?room=games`, 'carol');
    const dave = await openChat(url, 'dave');
    await dave.fill('#roomName', 'games');
    await Promise.all([dave.waitForNavigation({ timeout: stepTimeoutMs }), dave.click('#open')]);
    await dave.waitForSelector('#m:not([disabled])', { timeout: stepTimeoutMs });
    for (const [name, page] of [['carol', carol], ['dave', dave]]) {
        const label = await page.textContent('#room');
        if (label !== 'room: games') throw new Error(`${name}'s page shows '${label}', not 'room: games'`);
    }
    if (await alice.textContent('#room') !== 'room: lobby') throw new Error("alice's page does not show the lobby");
    await send(carol, 'carol');
    await send(dave, 'dave');
    await send(carol, 'anyone for chess?');
    await waitForMessages(dave, 'dave', ['* carol joined', '* dave joined', 'carol: anyone for chess?']);
    await send(alice, 'lobby only');
    await waitForMessages(alice, 'alice', ['alice: lobby only']);
    const lobby = await messagesOf(alice);
    const leaked = lobby.filter((text) => text.includes('carol') || text.includes('dave'));
    if (leaked.length) throw new Error(`the lobby saw the games room: ${JSON.stringify(leaked)}`);
    if ((await messagesOf(carol)).includes('alice: lobby only')) throw new Error('the games room saw the lobby');
    log('rooms are apart; the room form opens another room');

    server.kill('SIGTERM');
    const stopped = await Promise.race([
        serverExit,
        new Promise((resolve) => setTimeout(() => resolve(null), stepTimeoutMs)),
    ]);
    if (!stopped) throw new Error('wharf-chat did not exit within 10 s of SIGTERM');
    if (stopped.code !== 0) {
        throw new Error(`wharf-chat exited with code ${stopped.code} (signal ${stopped.signal}) after SIGTERM`);
    }
    await waitForPrefix(alice, 'alice', '* disconnected (1001');
    log('SIGTERM: clients got 1001 and the server exited 0');
}

let failed = false;
try {
    await main();
} catch (error) {
    failed = true;
    console.error(`e2e: FAILED: ${error.message}`);
    if (serverStderr) console.error(`e2e: wharf-chat stderr:\n${serverStderr}`);
}
await cleanup();
clearTimeout(watchdog);
if (!failed) console.log('e2e: PASSED: chat in headless chromium');
process.exit(failed ? 1 : 0);
