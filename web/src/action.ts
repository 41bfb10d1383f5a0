/** useAction: runs a mutating API call, keeps its error for display, and calls `after` when it succeeded. */
import { useState } from 'preact/hooks';

export function useAction(after: () => void): [string | null, (fn: () => Promise<unknown>) => Promise<boolean>] {
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      after();
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    }
  };
  return [error, run];
}
