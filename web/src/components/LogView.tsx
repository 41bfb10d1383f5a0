/**
 * A build log, virtualised: every line has the same height (no wrapping), so only the lines in view (plus a
 * margin) are in the DOM whatever the log's length; 200,000 lines scroll like 200. Text is rendered as text
 * nodes (escaped by the renderer), colours as classes from parseAnsiLine. Follow mode keeps the last line in
 * view as lines arrive and turns off when the reader scrolls up; search finds lines (escapes stripped) and
 * steps through them; each line number is a link (#L<n>) that opens the log at that line.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { parseAnsiLine, segmentClass } from '../ansi';
import type { LogLines } from '../log-lines';

const LINE_HEIGHT = 18;
const OVERSCAN = 30;

function LogRow({ n, text, header, match, current }: { n: number; text: string; header?: boolean; match: boolean; current: boolean }) {
  const segments = useMemo(() => (header ? [] : parseAnsiLine(text)), [text, header]);
  const cls = `log-line${header ? ' log-header' : ''}${match ? ' log-match' : ''}${current ? ' log-current' : ''}`;
  return (
    <div class={cls} style={{ top: `${n * LINE_HEIGHT}px` }} id={`L${n + 1}`}>
      <a class="log-n" href={`#L${n + 1}`} tabIndex={-1} aria-label={`line ${n + 1}`}>
        {n + 1}
      </a>
      <span class="log-text">
        {header
          ? text
          : segments.map((s) => {
              const c = segmentClass(s.style);
              return c.className || c.color || c.background ? (
                <span class={c.className} style={c.color || c.background ? { color: c.color, backgroundColor: c.background } : undefined}>
                  {s.text}
                </span>
              ) : (
                s.text
              );
            })}
      </span>
    </div>
  );
}

export function LogView({ lines, version, live }: { lines: LogLines; version: number; live: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [follow, setFollow] = useState(() => !/^#L\d+$/.test(window.location.hash));
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<number[]>([]);
  const [hit, setHit] = useState(-1);
  const [linked, setLinked] = useState<number | null>(() => {
    const m = /^#L(\d+)$/.exec(window.location.hash);
    return m ? Number(m[1]) - 1 : null;
  });
  const programmatic = useRef(false);
  const count = lines.count;

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const scrollTo = (top: number) => {
    const el = box.current;
    if (!el) return;
    const before = el.scrollTop;
    el.scrollTop = top;
    // Only a scroll that moved fires a scroll event to swallow.
    if (el.scrollTop !== before) programmatic.current = true;
    setScrollTop(el.scrollTop);
  };

  // Follow: after every change, the last line in view.
  useLayoutEffect(() => {
    if (follow && box.current) scrollTo(box.current.scrollHeight);
  }, [version, follow, count]);

  // A #L<n> link: scroll there once that line exists.
  useLayoutEffect(() => {
    if (linked !== null && linked < count) {
      scrollTo(Math.max(0, linked * LINE_HEIGHT - height / 3));
      setLinked(null);
    }
  }, [count, linked]);

  // Search again when the query changes, and as lines arrive (debounced: a live log grows quickly).
  useEffect(() => {
    const t = setTimeout(() => setHits(query ? lines.search(query) : []), query ? 150 : 0);
    return () => clearTimeout(t);
  }, [query, version]);

  const goToHit = (i: number) => {
    if (!hits.length) return;
    const k = ((i % hits.length) + hits.length) % hits.length;
    setHit(k);
    setFollow(false);
    scrollTo(Math.max(0, hits[k] * LINE_HEIGHT - height / 3));
  };

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    if (programmatic.current) {
      programmatic.current = false;
      return;
    }
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - LINE_HEIGHT;
    if (follow !== atBottom) setFollow(atBottom);
  };

  const first = Math.max(0, Math.floor(scrollTop / LINE_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / LINE_HEIGHT) + OVERSCAN);
  const hitSet = useMemo(() => new Set(hits), [hits]);
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = lines.line(i);
    rows.push(<LogRow key={i} n={i} text={l.text} header={l.header} match={hitSet.has(i)} current={hits[hit] === i} />);
  }

  return (
    <section class="log" aria-label="Build log">
      <div class="log-toolbar">
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow
        </label>
        <input
          type="search"
          placeholder="Search the log"
          aria-label="Search the log"
          value={query}
          onInput={(e) => {
            setQuery((e.target as HTMLInputElement).value);
            setHit(-1);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') goToHit(e.shiftKey ? hit - 1 : hit + 1);
          }}
        />
        <button type="button" onClick={() => goToHit(hit - 1)} disabled={!hits.length} aria-label="Previous match">
          ↑
        </button>
        <button type="button" onClick={() => goToHit(hit + 1)} disabled={!hits.length} aria-label="Next match">
          ↓
        </button>
        <span class="muted log-hits" aria-live="polite">
          {query ? (hits.length ? `${Math.max(hit, 0) + 1} / ${hits.length}` : 'no match') : ''}
        </span>
        <span class="spacer" />
        <span class="muted">
          {count.toLocaleString()} lines{live ? ' · live' : ''}
        </span>
      </div>
      <div class="log-box" ref={box} onScroll={onScroll} tabIndex={0} data-testid="log">
        <div class="log-spacer" style={{ height: `${count * LINE_HEIGHT}px` }}>
          {rows}
        </div>
      </div>
    </section>
  );
}
