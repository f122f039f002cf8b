/**
 * A long call's progress and its Cancel button (the Playground's run, the
 * layer profile): what its call.progress events say — waiting for the engine,
 * loading the model, the prompt's prefill, each configuration's generation or
 * LMBO's layers — with a bar where the stage has a count.
 */
import { useState } from 'react';
import type { CallProgress as Progress } from '../store/calls.ts';
import { ProgressBar } from './ProgressBar.tsx';

/** Shown while one call runs: its parent keys it by the call's requestId, so a new call starts with Cancel enabled. */
export function CallProgress({ progress, onCancel, testId }: { progress: Progress | null; onCancel: () => Promise<void>; testId: string }) {
  const [cancelling, setCancelling] = useState(false);
  return (
    <div className="call-progress" data-testid={testId}>
      <div className="row gap">
        <span className="muted" data-testid={`${testId}-text`} aria-live="polite">
          {cancelling ? 'Cancelling…' : (progress?.current ?? 'Starting…')}
        </span>
        <button
          type="button"
          disabled={cancelling}
          onClick={() => {
            setCancelling(true);
            void onCancel();
          }}
          data-testid={`${testId}-cancel`}
        >
          Cancel
        </button>
      </div>
      {progress && progress.total > 0 ? <ProgressBar value={progress.done} max={progress.total} label={progress.current} testId={`${testId}-bar`} /> : null}
    </div>
  );
}
