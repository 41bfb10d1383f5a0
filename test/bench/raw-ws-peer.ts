/**
 * Baseline for the log path: the same lines over a bare ws connection between two processes.
 * `receive`: a ws server that counts lines and prints {"lines","ms"} when it has them all.
 * `send PORT LINES`: connects and sends the lines, 1,000 per binary frame.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { block } from './lines';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'receive') {
  const expected = Number(a);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 16 << 20 });
  wss.on('listening', () => console.log(JSON.stringify({ port: (wss.address() as { port: number }).port })));
  wss.on('connection', (ws) => {
    let lines = 0;
    let start = 0;
    ws.on('message', (data: Buffer) => {
      if (!start) start = performance.now();
      // Count newlines the way a consumer must touch the bytes: one pass over the buffer.
      for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) lines++;
      if (lines >= expected) {
        console.log(JSON.stringify({ lines, ms: performance.now() - start }));
        process.exit(0);
      }
    });
  });
} else if (mode === 'send') {
  const total = Number(b);
  const ws = new WebSocket(`ws://127.0.0.1:${a}`);
  ws.on('open', async () => {
    // Frames are built ahead of the clock so the baseline measures the connection, as the agent's
    // chunks are already in memory when it sends them.
    const frames: Buffer[] = [];
    for (let i = 0; i < total; i += 1000) frames.push(block(i, Math.min(1000, total - i)));
    for (const f of frames) {
      if (ws.bufferedAmount > 8 << 20) await new Promise((r) => setTimeout(r, 1));
      ws.send(f);
    }
  });
}
