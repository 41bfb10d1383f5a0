/** raw_ws_lines_per_s: the baseline the log path is compared against (same machine, same run). */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export async function rawWsLinesPerSecond(lines: number): Promise<number> {
  const peer = (...args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', 'test/bench/raw-ws-peer.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const receiver = peer('receive', String(lines));
  const out = createInterface({ input: receiver.stdout! });
  const messages: AsyncIterator<string> = out[Symbol.asyncIterator]();
  const { port } = JSON.parse((await messages.next()).value);
  const sender = peer('send', String(port), String(lines));
  const result = JSON.parse((await messages.next()).value) as { lines: number; ms: number };
  sender.kill();
  receiver.kill();
  // The receiver's clock starts at the first frame, so connection setup is not counted.
  return Math.round(result.lines / (result.ms / 1000));
}
