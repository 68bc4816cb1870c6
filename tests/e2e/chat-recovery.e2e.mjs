// End-to-end test of the chat page's recovery in a wharf-chat cluster, in headless Chromium.
//
//   node chat-recovery.e2e.mjs /path/to/wharf-chat [/path/to/redis-server]
//
// Starts a redis-server and two wharf-chat nodes sharing it (--redis), on free loopback
// ports. alice's page is on node one, bob's on node two. Node one is stopped (SIGTERM):
// alice's page sees 1001 and keeps reconnecting while bob talks. Node one comes back on the
// same port; alice's page reconnects, joins again under her name and resumes from its
// count of the room's messages: it shows what bob said meanwhile once, and nothing it had
// shown before a second time. Then the two chat on.
// Exit status: 0 passed, 1 failed, 77 skipped (no Chromium, node_modules or redis-server).

import { existsSync } from 'node:fs';

import {
    Child, chatBinary, freePort, launchBrowser, log, messagesOf, openChat, runTest, send, skip, startChat,
    waitForMessages, waitForPrefix,
} from './lib.mjs';

const binary = chatBinary();
const redisPath = process.argv[3] ?? process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
let browser = null;
let redis = null;
const nodes = [];

async function startRedis() {
    const port = await freePort();
    redis = new Child(`redis-server:${port}`, redisPath,
                      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                       '--daemonize', 'no']);
    await redis.waitForLine(/Ready to accept connections/);
    return `redis://127.0.0.1:${port}`;
}

/// How many times the page shows each of `texts`.
async function countShown(page, texts) {
    const shown = await messagesOf(page);
    return texts.map((text) => shown.filter((line) => line === text).length);
}

async function main() {
    if (!existsSync(redisPath)) skip(`no redis-server at ${redisPath} (scripts/install-deps.sh --tests)`);
    browser = await launchBrowser();
    const redisUrl = await startRedis();
    log(`redis at ${redisUrl}`);
    const one = await startChat(binary, ['--redis', redisUrl, '--node', 'one']);
    nodes.push(one);
    const two = await startChat(binary, ['--redis', redisUrl, '--node', 'two']);
    nodes.push(two);

    const alice = await openChat(browser, one.url, 'alice');
    const bob = await openChat(browser, two.url, 'bob');
    await send(alice, 'alice');
    await waitForMessages(alice, 'alice', ['* alice joined']);
    await send(bob, 'bob');
    await waitForMessages(alice, 'alice', ['* bob joined']);
    await send(bob, 'before the outage');
    await waitForMessages(alice, 'alice', ['bob: before the outage']);
    log('alice on node one and bob on node two chat');

    const stopped = await one.child.stop();
    if (!stopped || stopped.code !== 0) throw new Error(`node one did not stop cleanly: ${JSON.stringify(stopped)}`);
    await waitForPrefix(alice, 'alice', '* disconnected (1001');
    const missed = ['bob: while you were away', 'bob: still away?'];
    for (const text of missed) {
        await send(bob, text.slice('bob: '.length));
        await waitForMessages(bob, 'bob', [text]);
    }
    log('node one stopped; bob talked meanwhile');

    const back = await startChat(binary, ['--redis', redisUrl, '--node', 'one'], one.port);
    nodes.push(back);
    // The page reconnects by itself, joins again, and shows what it missed.
    await waitForMessages(alice, 'alice', missed);
    await waitForPrefix(alice, 'alice', '* reconnecting');
    const once = [...missed, 'bob: before the outage', '* bob joined'];
    const counts = await countShown(alice, once);
    if (counts.some((n) => n !== 1)) {
        throw new Error(`alice's page shows ${JSON.stringify(once)} ${JSON.stringify(counts)} times, not once each: ` +
                        `${JSON.stringify(await messagesOf(alice))}`);
    }
    const shown = await messagesOf(alice);
    if (shown.indexOf(missed[0]) > shown.indexOf(missed[1])) throw new Error('the missed messages are out of order');
    log("alice's page shows what it missed, once, in order");

    await waitForMessages(alice, 'alice', ['* alice joined']);
    await waitForMessages(bob, 'bob', ['* alice joined']);
    await send(alice, "I'm back");
    await waitForMessages(bob, 'bob', ["alice: I'm back"]);
    await waitForMessages(alice, 'alice', ["alice: I'm back"]);
    log('alice joined again under her name, and the two chat on');
}

async function cleanup() {
    if (browser) await browser.close().catch(() => {});
    browser = null;
    for (const node of nodes) await node.child.kill();
    if (redis) await redis.kill();
}

await runTest('the chat page resumes after its node restarts', 60_000, main, cleanup,
              () => nodes.map((n) => `e2e: ${n.child.name} stderr:\n${n.child.stderr}`).join('\n') +
                    (redis ? `\ne2e: redis stderr:\n${redis.stderr}` : ''));
