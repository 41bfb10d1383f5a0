/** A build, stage or step status as a coloured badge (colour plus the word, never colour alone). */
export function Status({ status }: { status: string | null | undefined }) {
  const s = status ?? 'unknown';
  return <span class={`status status-${s.replace(/[^a-z-]/g, '')}`}>{s}</span>;
}
