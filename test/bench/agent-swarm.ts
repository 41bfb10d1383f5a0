/**
 * Load generator for the 500-agents benchmark: opens COUNT agent connections to the master that speak
 * the real protocol (hello, then heartbeats at the interval the master asks for), and prints
 * `{"ready":COUNT}` once the master accepted them all. It runs until killed. Not a mock: the master
 * cannot tell these from idle agents.
 *   node --import tsx test/bench/agent-swarm.ts <master url> <token> <environment> <count> <name prefix>
 */
import WebSocket from 'ws';
import { MasterMessageSchema, PROTOCOL_VERSION } from '../../shared/protocol';

const [url, token, environment, countArg, prefix] = process.argv.slice(2);
const count = Number(countArg);
const wsUrl = `${url.replace(/^http/, 'ws')}/ws/agent`;
let ready = 0;

function connect(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    let timer: NodeJS.Timeout | undefined;
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          type: 'agent:hello', protocolVersion: PROTOCOL_VERSION, token, name: `${prefix}-${i}`, environment,
          labels: [], capacity: 1, executors: [{ kind: 'shell', version: 'swarm' }], running: [],
        }),
      ),
    );
    ws.on('message', (raw: Buffer) => {
      const msg = MasterMessageSchema.parse(JSON.parse(raw.toString()));
      if (msg.type === 'master:accepted') {
        timer = setInterval(() => ws.send(JSON.stringify({ type: 'agent:heartbeat', leases: [] })), msg.heartbeatIntervalMs);
        resolve();
      } else if (msg.type === 'master:refused') reject(new Error(`refused: ${msg.reason}`));
    });
    ws.on('close', (code, reason) => {
      clearInterval(timer);
      reject(new Error(`agent ${i} closed ${code} ${reason}`));
    });
    ws.on('error', reject);
  });
}

// A few connections at a time: a burst of 500 handshakes measures the accept queue, not idle agents.
const CONCURRENCY = 25;
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      await connect(next++);
      ready++;
    }
  }),
);
console.log(JSON.stringify({ ready }));
