/**
 * The access-change signal of MasterContext (accessChanged / onAccessChanged): membership and role
 * changes, token revocations and user disabling are told to listeners synchronously, after they committed,
 * so the client stream can end subscriptions the caller lost at once instead of at its next ping.
 * A failing listener is logged and does not keep the others (or the request that made the change) from running.
 */
import type { Logger } from 'pino';
import type { AccessChange } from '../context';

export interface AccessEvents {
  emit(change: AccessChange): void;
  on(listener: (change: AccessChange) => void): void;
}

export function createAccessEvents(log: Logger): AccessEvents {
  const listeners: ((change: AccessChange) => void)[] = [];
  return {
    emit(change) {
      for (const l of listeners) {
        try {
          l(change);
        } catch (err) {
          log.error({ err, change }, 'access change listener failed');
        }
      }
    },
    on(listener) {
      listeners.push(listener);
    },
  };
}
