/** Express request augmentation: the platform's auth middleware sets req.principal on /api/v1 routes. */
import type { Principal } from '../context';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
    }
  }
}

export {};
