// End-to-end test of the wharf-chat sample in headless Chromium.
//
//   node chat.e2e.mjs /path/to/wharf-chat
//
// Starts wharf-chat on a free port, opens the page twice (alice and bob), checks that it
// shows its node, chats, checks that messages arrive as text (not markup), that leaving is
// announced, that rooms are apart (carol opens ?room=games, dave gets there with the
// page's room form; the lobby hears nothing of it), and that SIGTERM stops the server
// gracefully (clients see 1001, the process exits 0). chat-recovery.e2e.mjs has the
// cluster's reconnect.
// Exit status: 0 passed, 1 failed, 77 skipped (no Chromium or no node_modules).

import {
    chatBinary, launchBrowser, log, messagesOf, openChat, runTest, send, startChat, stepTimeoutMs, waitForMessages,
    waitForPrefix,
} from './lib.mjs';

const binary = chatBinary();
let server = null;
let browser = null;

async function main() {
    browser = await launchBrowser();
    server = await startChat(binary);
    const { url } = server;
    log(`server at ${url}`);
    const alice = await openChat(browser, url, 'alice');
    const bob = await openChat(browser, url, 'bob');

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
    const carol = await openChat(browser, `${url}?room=games`, 'carol');
    const dave = await openChat(browser, url, 'dave');
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

    const stopped = await server.child.stop();
    if (!stopped) throw new Error('wharf-chat did not exit within 10 s of SIGTERM');
    if (stopped.code !== 0) {
        throw new Error(`wharf-chat exited with code ${stopped.code} (signal ${stopped.signal}) after SIGTERM`);
    }
    await waitForPrefix(alice, 'alice', '* disconnected (1001');
    log('SIGTERM: clients got 1001 and the server exited 0');
}

async function cleanup() {
    if (browser) await browser.close().catch(() => {});
    browser = null;
    if (server) await server.child.kill();
}

await runTest('chat in headless chromium', 60_000, main, cleanup,
              () => (server?.child.stderr ? `e2e: wharf-chat stderr:\n${server.child.stderr}` : ''));
