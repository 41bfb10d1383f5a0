/**
 * Approve or reject one stage waiting at its approval gate (POST /builds/:id/stages/:stage/approve | reject),
 * with an optional comment; the master decides who may (the gate's teams, or an admin) and says why not.
 */
import { useState } from 'preact/hooks';
import { useAction } from '../action';
import { session } from '../session';

export function ApprovalGate({ buildId, stage, onDone }: { buildId: number; stage: string; onDone: (decision: 'approved' | 'rejected') => void }) {
  const s = session()!;
  const [comment, setComment] = useState('');
  const [error, act] = useAction(() => undefined);
  const decide = async (what: 'approve' | 'reject') => {
    if (what === 'reject' && !window.confirm(`Reject stage ${stage}? The build fails.`)) return;
    if (await act(() => (what === 'approve' ? s.client.approveStage(buildId, stage, comment || undefined) : s.client.rejectStage(buildId, stage, comment || undefined))))
      onDone(what === 'approve' ? 'approved' : 'rejected');
  };
  return (
    <div class="gate" data-testid={`gate-${buildId}-${stage}`}>
      <div class="inline-form">
        <input aria-label={`Comment on stage ${stage}`} placeholder="comment (optional)" maxLength={2000} value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        <button type="button" onClick={() => decide('approve')}>
          Approve
        </button>
        <button type="button" class="danger" onClick={() => decide('reject')}>
          Reject
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
