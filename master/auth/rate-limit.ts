/**
 * Fixed-window attempt counter keyed by a string (IP + username for logins). In memory: a master restart
 * resets it, which is acceptable for a per-minute limit.
 */
export interface RateLimiter {
  /** Records an attempt; returns 0 when allowed, else the seconds until the key may try again. */
  hit(key: string, now?: number): number;
  /** Forgets a key (after a successful login). */
  reset(key: string): void;
}

export function createRateLimiter(max: number, windowMs: number): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = 0;
  return {
    hit(key, now = Date.now()) {
      // Sweep expired windows at most once per window so the map cannot grow without bound.
      if (now - lastSweep > windowMs) {
        for (const [k, w] of windows) if (now - w.start >= windowMs) windows.delete(k);
        lastSweep = now;
      }
      let w = windows.get(key);
      if (!w || now - w.start >= windowMs) {
        w = { start: now, count: 0 };
        windows.set(key, w);
      }
      w.count++;
      if (w.count <= max) return 0;
      return Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
    },
    reset(key) {
      windows.delete(key);
    },
  };
}
