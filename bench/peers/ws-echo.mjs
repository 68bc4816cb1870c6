// ws-echo: Node's `ws` library as an echo peer for wharf-bench.
//   node ws-echo.mjs [--port 9004]
// Listens on 127.0.0.1, no permessage-deflate; prints "ws-echo: echoing at ws://127.0.0.1:PORT/".
// Install its dependency first: (cd bench/peers && npm ci).
import { WebSocketServer } from 'ws';

let port = 9004;
for (let i = 2; i < process.argv.length; ++i) {
  if (process.argv[i] === '--port' && i + 1 < process.argv.length) port = Number(process.argv[++i]);
  else if (process.argv[i] === '--threads') ++i; // single-threaded; accepted for symmetry
  else { console.error('usage: node ws-echo.mjs [--port 9004]'); process.exit(2); }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  console.log(`ws-echo: echoing at ws://127.0.0.1:${wss.address().port}/`);
});
const stop = () => { for (const c of wss.clients) c.terminate(); wss.close(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
