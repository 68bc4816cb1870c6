// The wharf-chat page: one WebSocket to the room's /chat/ROOM (the lobby: /chat) on the
// host that served this page; "/?room=ROOM" opens ROOM. The first line sent is the user's
// name; every later one is a chat message to the room. The server's first line names the
// node (of a cluster behind a load balancer) the page is connected to; a line that begins
// with "! " says which of our texts reached nobody.
//
// When the connection drops, the page reconnects (backing off up to 10 s) and joins again
// under the same name. With a chat cluster (wharf-chat --redis) it also resumes: it asks
// for its position in the room ("?since="), counts the room's messages from the
// "* position EPOCH:OFFSET" line, and reconnects with "?since=EPOCH:OFFSET", so what the
// room said while it was away is shown, once, before what follows. Room messages are the
// lines without ':' that begin with "* " (joins and leaves) and the "name: text" lines;
// every other line the server sends contains a ':' (ChatEndPoint.hpp).
'use strict';

(function () {
    const messages = document.getElementById('messages');
    const form = document.getElementById('form');
    const input = document.getElementById('m');
    const button = document.getElementById('send');
    const status = document.getElementById('status');
    const roomLabel = document.getElementById('room');
    const nodeLabel = document.getElementById('node');
    const rooms = document.getElementById('rooms');
    const roomName = document.getElementById('roomName');
    const room = new URLSearchParams(location.search).get('room') || '';
    roomLabel.textContent = `room: ${room || 'lobby'}`;
    document.title = `wharf chat: ${room || 'lobby'}`;
    let named = false;        // the server accepted our name
    let pendingName = null;   // the name we sent, until the server announces it
    let myName = null;        // the accepted name, sent again after a reconnect
    let position = null;      // {epoch, offset}: the last room message shown (cluster only)
    let counting = false;     // this connection's "* position" line has come
    let socket = null;
    let retryDelay = 1000;    // before the next reconnect; doubles up to 10 s

    // textContent, never innerHTML: messages are other people's text, not markup.
    function append(text, kind) {
        const li = document.createElement('li');
        li.textContent = text;
        if (kind) li.className = kind;
        else if (text.startsWith('* ')) li.className = 'notice';
        else if (text.startsWith('! ')) li.className = 'failed';
        messages.appendChild(li);
        li.scrollIntoView({ block: 'end' });
    }

    function setConnected(connected, text) {
        input.disabled = !connected;
        button.disabled = !connected;
        status.textContent = text;
        if (connected) input.focus();
    }

    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = room ? `/chat/${encodeURIComponent(room)}` : '/chat';

    // A room message: "* NAME joined" / "* NAME left" (no ':'), or "NAME: text".
    function isRoomMessage(text) {
        if (text.startsWith('! ')) return false;
        if (text.startsWith('* ')) return !text.includes(':');
        return true;
    }

    function accepted(name) {
        named = true;
        myName = name;
        input.placeholder = 'message';
        input.setAttribute('aria-label', 'message');
        button.textContent = 'Send';
        status.textContent = `connected as ${name}`;
    }

    function onMessage(event) {
        const text = String(event.data);
        const positionPrefix = '* position ';
        if (text.startsWith(positionPrefix)) {
            const value = text.slice(positionPrefix.length);
            const colon = value.lastIndexOf(':');
            position = { epoch: value.slice(0, colon), offset: Number(value.slice(colon + 1)) };
            counting = true;
            return;  // bookkeeping, not for the reader
        }
        append(text);
        if (counting && position && isRoomMessage(text)) position.offset += 1;
        if (text.startsWith('* lost: ')) position = null;  // our count no longer holds
        const nodePrefix = '* connected to node ';
        if (text.startsWith(nodePrefix)) nodeLabel.textContent = `node: ${text.slice(nodePrefix.length)}`;
        // The server announces an accepted name to everybody as "* NAME joined" (or tells
        // us alone that the announcement reached nobody: "! not delivered (WHY): NAME"),
        // and answers a refused one to us alone with "* name not accepted: WHY".
        if (!named && pendingName !== null) {
            if (text === `* ${pendingName} joined` ||
                (text.startsWith('! not delivered (') && text.endsWith(`): ${pendingName}`))) {
                accepted(pendingName);
            } else if (text.startsWith('* name not accepted: ')) {
                pendingName = null;
            }
        }
    }

    function connect() {
        const since = position ? `${position.epoch}:${position.offset}` : '';
        socket = new WebSocket(`${scheme}//${location.host}${path}?since=${encodeURIComponent(since)}`);
        counting = false;
        socket.addEventListener('open', () => {
            retryDelay = 1000;
            if (myName !== null) {
                // Join again under the same name (the server knows nothing of the old connection).
                named = false;
                pendingName = myName;
                socket.send(myName);
                setConnected(true, 'connected');
            } else {
                setConnected(true, 'connected — pick a name');
            }
        });
        socket.addEventListener('message', onMessage);
        socket.addEventListener('close', (event) => {
            const reason = event.reason ? `: ${event.reason}` : '';
            const delay = retryDelay;
            retryDelay = Math.min(retryDelay * 2, 10000);
            append(`* disconnected (${event.code}${reason}) — reconnecting in ${delay / 1000} s`, 'notice');
            setConnected(false, 'disconnected');
            if (!named) pendingName = null;  // unanswered: asked again (or sent again, below)
            setTimeout(() => {
                append('* reconnecting…', 'notice');
                connect();
            }, delay);
        });
    }
    connect();

    // Another room: the same page with ?room=NAME (the server refuses invalid names).
    rooms.addEventListener('submit', (event) => {
        event.preventDefault();
        const name = roomName.value.trim();
        location.search = name ? `?room=${encodeURIComponent(name)}` : '';
    });

    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const text = input.value;
        if (text.trim() === '' || socket.readyState !== WebSocket.OPEN) return;
        if (!named) {
            if (pendingName !== null) return;  // still waiting for the server's answer
            pendingName = text.trim();
        }
        socket.send(text);
        input.value = '';
        input.focus();
    });
})();
