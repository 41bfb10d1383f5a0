/** useLoad: runs an API call, keeps its result, error and a reload function; optional polling interval. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const gen = useRef(0);
  const run = useCallback(() => {
    const mine = ++gen.current;
    load().then(
      (data) => mine === gen.current && setState({ data, loading: false }),
      (err: Error) => mine === gen.current && setState((s) => ({ ...s, error: err.message, loading: false })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setState({ loading: true });
    run();
    if (!pollMs) return () => void gen.current++;
    const t = setInterval(() => document.visibilityState === 'visible' && run(), pollMs);
    return () => {
      clearInterval(t);
      gen.current++;
    };
  }, [run, pollMs]);
  return { data: state.data, error: state.error, loading: state.loading, reload: run };
}
