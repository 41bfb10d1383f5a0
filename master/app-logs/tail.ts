/**
 * Live tail of an app's container logs across its instances, as Server-Sent Events (GET /app-logs/tail).
 *
 * No line lost or sent twice: each tail remembers the id of the last entry it sent and, whenever a batch of its
 * app was stored, reads the store's entries after that id (store.since) — the store is the only source, so
 * what a tail sends is exactly what was committed, in storing order.
 *
 * Access is checked when the tail opens and again, for every open tail, on each access change (membership,
 * revoked token, disabled user: ctx.onAccessChanged) and job change (an app moved to another team or no longer
 * deployed: ctx.jobs.onChange), and every recheckMs for expiring credentials. A tail whose caller may no longer
 * read the app ends with an `end` event (code not_found, or unauthenticated) and receives nothing more.
 */
import type { Response } from 'express';
import type { AppLogLine, AppLogTailEvent } from '../../shared/api-logs';
import type { MasterContext } from '../context';
import type { LogCenterStore, LogQuery } from '../logcenter';
import type { AppScope } from './scope';

export interface TailRequest {
  /** Re-authenticated on every check. */
  credential: string;
  query: Omit<LogQuery, 'apps' | 'cursor' | 'context' | 'limit' | 'from' | 'to'> & { app: string };
  /** Entries to send first (the newest ones), 0 for only new ones. */
  lines: number;
}

interface Tail {
  req: TailRequest;
  res: Response;
  afterId?: string;
  pending: boolean;
  closed: boolean;
}

const PAGE = 1000;

export class TailHub {
  private readonly tails = new Set<Tail>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: MasterContext,
    private readonly store: LogCenterStore,
    private readonly scope: AppScope,
    recheckMs = 30_000,
  ) {
    ctx.onAccessChanged(() => this.recheckAll());
    ctx.jobs.onChange(() => this.recheckAll());
    this.timer = setInterval(() => this.recheckAll(), recheckMs);
    this.timer.unref();
  }

  get size(): number {
    return this.tails.size;
  }

  /** Starts a tail (the caller checked access); it runs until the client goes or access is lost. */
  open(req: TailRequest, res: Response): void {
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    const tail: Tail = { req, res, pending: false, closed: false };
    this.tails.add(tail);
    res.on('close', () => {
      tail.closed = true;
      this.tails.delete(tail);
    });
    const first = this.store.since(this.storeQuery(tail, Math.max(1, Math.min(req.lines, PAGE))));
    if (req.lines > 0) this.send(tail, { type: 'lines', lines: first });
    tail.afterId = first.length ? first[first.length - 1].id : undefined;
    // A comment line now and then keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => (tail.closed ? clearInterval(keepAlive) : res.write(': keep-alive\n\n')), 15_000);
    keepAlive.unref();
    res.on('close', () => clearInterval(keepAlive));
    if (!first.length) this.pull(tail);
  }

  /** Entries of these apps were stored: each tail of one of them reads what is new (once per tick). */
  stored(apps: Set<string>): void {
    for (const t of this.tails) {
      if (t.pending || !apps.has(t.req.query.app)) continue;
      t.pending = true;
      setImmediate(() => {
        t.pending = false;
        this.pull(t);
      });
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const t of [...this.tails]) this.end(t, 'unavailable', 'the master is shutting down');
  }

  private pull(t: Tail): void {
    if (t.closed) return;
    for (;;) {
      const lines: AppLogLine[] = t.afterId === undefined ? this.firstEver(t) : this.store.since(this.storeQuery(t, PAGE), t.afterId);
      if (!lines.length) return;
      this.send(t, { type: 'lines', lines });
      t.afterId = lines[lines.length - 1].id;
      if (lines.length < PAGE) return;
    }
  }

  /** The app had no entry when the tail opened: everything stored since is new. */
  private firstEver(t: Tail): AppLogLine[] {
    return this.store.since(this.storeQuery(t, PAGE));
  }

  private storeQuery(t: Tail, limit: number): Omit<LogQuery, 'cursor' | 'context'> {
    const { app, ...rest } = t.req.query;
    return { ...rest, apps: [app], limit };
  }

  private recheckAll(): void {
    for (const t of [...this.tails]) {
      const p = this.ctx.authenticate(t.req.credential);
      if (!p) this.end(t, 'unauthenticated', 'credentials revoked or expired');
      else if (!this.scope.visibleApps(p).has(t.req.query.app)) this.end(t, 'not_found', `app '${t.req.query.app}' not found`);
    }
  }

  private end(t: Tail, code: string, message: string): void {
    this.send(t, { type: 'end', code, message });
    t.closed = true;
    this.tails.delete(t);
    t.res.end();
  }

  private send(t: Tail, ev: AppLogTailEvent): void {
    if (t.closed) return;
    t.res.write(`data: ${JSON.stringify(ev)}\n\n`);
  }
}
