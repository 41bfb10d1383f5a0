/**
 * Browser hardening headers, set by hand (no helmet dependency): no MIME sniffing, no framing, no
 * referrers, a strict CSP for the UI (it talks only to its own origin, including WebSockets), and HSTS
 * when the master serves HTTPS.
 */
import type { RequestHandler } from 'express';

export function securityHeaders(tls: boolean): RequestHandler {
  const headers: Record<string, string> = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  };
  if (tls) headers['Strict-Transport-Security'] = 'max-age=31536000';
  return (_req, res, next) => {
    res.set(headers);
    next();
  };
}
