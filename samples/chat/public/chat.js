// The wharf-chat page: one WebSocket to the room's /chat/ROOM (the lobby: /chat) on the
// host that served this page; "/?room=ROOM" opens ROOM. The first line sent is the user's
// name; every later one is a chat message to the room. The server's first line names the
// node (of a cluster behind a load balancer) the page is connected to; a line that begins
// with "! " says which of our texts reached nobody.
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
    const socket = new WebSocket(`${scheme}//${location.host}${path}`);

    socket.addEventListener('open', () => {
        setConnected(true, 'connected — pick a name');
    });

    socket.addEventListener('message', (event) => {
        const text = String(event.data);
        append(text);
        const nodePrefix = '* connected to node ';
        if (text.startsWith(nodePrefix)) nodeLabel.textContent = `node: ${text.slice(nodePrefix.length)}`;
        // The server announces an accepted name to everybody as "* NAME joined" (or tells
        // us alone that the announcement reached nobody: "! not delivered (WHY): NAME"),
        // and answers a refused one to us alone with "* name not accepted: WHY".
        if (!named && pendingName !== null) {
            if (text === `* ${pendingName} joined` ||
                (text.startsWith('! not delivered (') && text.endsWith(`): ${pendingName}`))) {
                named = true;
                input.placeholder = 'message';
                input.setAttribute('aria-label', 'message');
                button.textContent = 'Send';
                status.textContent = `connected as ${pendingName}`;
            } else if (text.startsWith('* name not accepted: ')) {
                pendingName = null;
            }
        }
    });

    socket.addEventListener('close', (event) => {
        const reason = event.reason ? `: ${event.reason}` : '';
        append(`* disconnected (${event.code}${reason}) — reload the page to join again`, 'notice');
        setConnected(false, 'disconnected');
    });

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
