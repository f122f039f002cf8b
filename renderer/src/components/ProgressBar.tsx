/** A determinate progress bar with an accessible value (the e2e tests read aria-valuenow). */
export function ProgressBar({ value, max, label, testId }: { value: number; max: number; label?: string; testId?: string }) {
  const share = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={value}
      aria-label={label ?? 'progress'}
      data-testid={testId}
      data-value={value}
      data-max={max}
    >
      <div className="progress-fill" style={{ width: `${(share * 100).toFixed(2)}%` }} />
    </div>
  );
}
