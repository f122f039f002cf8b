/**
 * Playground: one prompt through the full KV cache and up to three compressed
 * configurations, side by side — generated text, speed, KV bytes held against
 * the full cache, and which prompt tokens each layer / KV head kept (the
 * retention overlay, with a layer slider and a head picker shared by all
 * columns so they compare at the same place).
 */
import { useMemo } from 'react';
import type { MethodInfo, PlaygroundResult } from '@kvlab/core';
import { RetentionOverlay } from '../components/RetentionOverlay.tsx';
import { useLab } from '../store/index.ts';
import { MAX_PLAYGROUND_CONFIGS } from '../store/playground.ts';
import { formatBytes, formatPercent, formatRate } from '../util/format.ts';

/** Every scorer/allocator pair, with and without the head-wise split: the choices a config offers. */
export function methodChoices(infos: readonly MethodInfo[]): string[] {
  const scorers = infos.filter((m) => m.kind === 'scorer').map((m) => m.id);
  const allocators = infos.filter((m) => m.kind === 'allocator').map((m) => m.id);
  const heads = infos.filter((m) => m.kind === 'headwise').map((m) => m.id);
  const out: string[] = [];
  for (const s of scorers)
    for (const a of allocators) {
      out.push(`${s}/${a}`);
      for (const h of heads) out.push(`${s}/${a}+${h}`);
    }
  return out;
}

export function PlaygroundScreen() {
  const modelId = useLab((s) => s.selectedModelId);
  const card = useLab((s) => (s.selectedModelId ? s.cards[s.selectedModelId] : undefined));
  const prompt = useLab((s) => s.prompt);
  const maxNewTokens = useLab((s) => s.maxNewTokens);
  const configs = useLab((s) => s.configs);
  const running = useLab((s) => s.playgroundRunning);
  const error = useLab((s) => s.playgroundError);
  const response = useLab((s) => s.response);
  const layer = useLab((s) => s.overlayLayer);
  const head = useLab((s) => s.overlayHead);
  const methodInfo = useLab((s) => s.methodInfo);
  const setPrompt = useLab((s) => s.setPrompt);
  const setMax = useLab((s) => s.setMaxNewTokens);
  const setConfig = useLab((s) => s.setConfig);
  const addConfig = useLab((s) => s.addConfig);
  const removeConfig = useLab((s) => s.removeConfig);
  const setOverlay = useLab((s) => s.setOverlay);
  const run = useLab((s) => s.runPlayground);
  const choices = useMemo(() => methodChoices(methodInfo), [methodInfo]);

  const layers = response?.results.find((r) => r.kept.length)?.kept.length ?? card?.layers ?? 0;
  const kvHeads = response?.results.find((r) => r.kept.length)?.kept[0]?.length ?? card?.kvHeads ?? 0;

  return (
    <section className="screen screen-playground" data-testid="screen-playground">
      <header className="screen-header">
        <h1>Playground</h1>
        <p className="muted">
          Model: <strong>{card?.name ?? 'none selected'}</strong>. One prompt, the full cache and up to {MAX_PLAYGROUND_CONFIGS} compressed configurations.
        </p>
      </header>
      <form
        className="card playground-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (modelId) void run(modelId);
        }}
      >
        <label htmlFor="pg-prompt">Prompt</label>
        <textarea id="pg-prompt" rows={5} value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="playground-prompt" />
        <div className="row gap wrap">
          {configs.map((c, i) => (
            <fieldset key={i} className="config" data-testid={`playground-config-${i}`}>
              <legend>Config {i + 1}</legend>
              <select
                aria-label={`Method ${i + 1}`}
                value={c.method}
                onChange={(e) => setConfig(i, { method: e.target.value })}
                data-testid={`playground-method-${i}`}
              >
                {(choices.includes(c.method) ? choices : [c.method, ...choices]).map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
              <input
                aria-label={`Budget ${i + 1}`}
                value={c.budget}
                onChange={(e) => setConfig(i, { budget: e.target.value })}
                className="budget-input"
                data-testid={`playground-budget-${i}`}
              />
              <button
                type="button"
                className="link"
                onClick={() => removeConfig(i)}
                aria-label={`Remove config ${i + 1}`}
                data-testid={`playground-remove-${i}`}
              >
                Remove
              </button>
            </fieldset>
          ))}
          {configs.length < MAX_PLAYGROUND_CONFIGS ? (
            <button type="button" onClick={addConfig} data-testid="playground-add-config">
              + Add configuration
            </button>
          ) : null}
        </div>
        <div className="row gap">
          <label>
            Max new tokens{' '}
            <input
              type="number"
              min={1}
              max={1024}
              value={maxNewTokens}
              onChange={(e) => setMax(Math.max(1, Math.min(1024, Number(e.target.value) || 1)))}
              className="num-input"
              data-testid="playground-max-tokens"
            />
          </label>
          <button type="submit" className="primary" disabled={!modelId || running || !prompt.trim()} data-testid="playground-run">
            {running ? 'Running…' : 'Run'}
          </button>
        </div>
        {error ? (
          <p className="error" role="alert" data-testid="playground-error">
            {error}
          </p>
        ) : null}
      </form>

      {response ? (
        <>
          <div className="row gap overlay-controls card">
            <label>
              Layer <strong data-testid="playground-layer-value">{layer}</strong>
              <input
                type="range"
                min={0}
                max={Math.max(0, layers - 1)}
                value={layer}
                onChange={(e) => setOverlay({ layer: Number(e.target.value) })}
                data-testid="playground-layer"
              />
            </label>
            <label>
              KV head{' '}
              <select
                value={head === 'all' ? 'all' : String(head)}
                onChange={(e) => setOverlay({ head: e.target.value === 'all' ? 'all' : Number(e.target.value) })}
                data-testid="playground-head"
              >
                <option value="all">all heads (shade = share kept)</option>
                {Array.from({ length: kvHeads }, (_, h) => (
                  <option key={h} value={h}>
                    head {h}
                  </option>
                ))}
              </select>
            </label>
            <span className="muted small">{response.tokens.length} prompt tokens</span>
          </div>
          {(response.warnings ?? []).map((w) => (
            <p key={w} className="warning" role="alert" data-testid="playground-warning">
              {w}
            </p>
          ))}
          <div className="pg-results" data-testid="playground-results" style={{ gridTemplateColumns: `repeat(${response.results.length}, minmax(0, 1fr))` }}>
            {response.results.map((r, i) => (
              <ResultColumn key={`${r.label}-${i}`} index={i} result={r} tokens={response.tokens} layer={layer} head={head} />
            ))}
          </div>
        </>
      ) : null}
    </section>
  );
}

function ResultColumn({
  result,
  tokens,
  layer,
  head,
  index,
}: {
  result: PlaygroundResult;
  tokens: readonly string[];
  layer: number;
  head: number | 'all';
  index: number;
}) {
  const share = result.fullBytes > 0 ? result.kvBytes / result.fullBytes : 1;
  return (
    <article className="card pg-column" data-testid="playground-column" data-label={result.label} data-index={index}>
      <header>
        <h3 className="mono">{result.label}</h3>
        <div className="pg-stats">
          <span data-testid="pg-rate">{formatRate(result.tokensPerSecond)}</span>
          <span data-testid="pg-kv">
            KV {formatBytes(result.kvBytes)} / {formatBytes(result.fullBytes)} ({formatPercent(share)})
          </span>
        </div>
        <div className="kv-bar" title={`${formatPercent(share)} of the full cache`}>
          <div className="kv-bar-fill" style={{ width: `${Math.min(100, share * 100).toFixed(1)}%` }} />
        </div>
        {result.layerBudgets.length && result.kept.length ? (
          <p className="muted small mono" data-testid="pg-layer-budgets">
            budgets/layer: {result.layerBudgets.join(' · ')}
          </p>
        ) : null}
        {(result.notices ?? []).map((notice) => (
          <p key={notice} className="muted small" data-testid="pg-notice">
            note: {notice}
          </p>
        ))}
      </header>
      <p className="pg-text" data-testid="pg-text">
        {result.text}
      </p>
      <RetentionOverlay tokens={tokens} kept={result.kept} layer={layer} head={head} testId="retention-overlay" />
    </article>
  );
}
