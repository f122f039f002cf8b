/**
 * Playground: one prompt through the full KV cache and up to three compressed
 * configurations, side by side — generated text, speed, KV bytes held against
 * the full cache, and which prompt tokens each layer / KV head kept (the
 * retention overlay, with a layer slider and a head picker shared by all
 * columns so they compare at the same place).
 *
 * The prompt starts as a retrieval example in the format the demo model was
 * trained on (store/playground.ts); "Insert example" makes another — passkey
 * or needle, any of core's templates, length, depth, seed. While the prompt
 * holds an example's needle, each column says whether its answer has the
 * expected number and the overlays can jump to the needle.
 */
import { useEffect, useMemo } from 'react';
import type { ExampleKind, MethodInfo, PlaygroundExample, PlaygroundResult } from '@kvlab/core';
import { exampleTemplates, formatBytes, formatInt, formatPercent, formatRate, niahWholeScore } from '@kvlab/core';
import { RetentionOverlay } from '../components/RetentionOverlay.tsx';
import { useLab } from '../store/index.ts';
import { exampleLengths, MAX_PLAYGROUND_CONFIGS } from '../store/playground.ts';
import { decodeByteTokens, findTextSpan } from '../util/tokens.ts';

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

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
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
  const exampleOptions = useLab((s) => s.exampleOptions);
  const example = useLab((s) => s.example);
  const exampleLoading = useLab((s) => s.exampleLoading);
  const exampleError = useLab((s) => s.exampleError);
  const responseExample = useLab((s) => s.responseExample);
  const setExampleOptions = useLab((s) => s.setExampleOptions);
  const insertExample = useLab((s) => s.insertExample);
  const loadCard = useLab((s) => s.loadCard);
  const choices = useMemo(() => methodChoices(methodInfo), [methodInfo]);
  const lengths = useMemo(() => exampleLengths(card?.contextLength), [card?.contextLength]);
  const templates = useMemo(() => exampleTemplates(exampleOptions.kind), [exampleOptions.kind]);

  useEffect(() => {
    if (modelId) void loadCard(modelId);
  }, [modelId, loadCard]);
  // The first thing the Playground shows is the default example, once the model's card says how long a prompt fits.
  useEffect(() => {
    if (modelId && card && prompt === '' && example === null && !exampleLoading && exampleError === null)
      void insertExample(modelId, { contextLength: card.contextLength, ifEmpty: true });
  }, [modelId, card, prompt, example, exampleLoading, exampleError, insertExample]);
  const needleSpan = useMemo(() => (response && responseExample ? findTextSpan(response.tokens, responseExample.needle) : null), [response, responseExample]);

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
        <div className="row gap wrap pg-example" data-testid="playground-example">
          <label>
            Example{' '}
            <select
              value={exampleOptions.kind}
              onChange={(e) => setExampleOptions({ kind: e.target.value as ExampleKind, template: 'train-0' })}
              data-testid="playground-example-kind"
            >
              <option value="passkey">passkey</option>
              <option value="needle">needle</option>
            </select>
          </label>
          <label>
            Template{' '}
            <select
              value={exampleOptions.template}
              onChange={(e) => setExampleOptions({ template: e.target.value })}
              data-testid="playground-example-template"
              className="pg-template"
            >
              <optgroup label="Trained format (the demo model learnt these)">
                {templates
                  .filter((t) => !t.heldOut)
                  .map((t) => (
                    <option key={t.id} value={t.id}>
                      {templateLabel(t.id, t.template.statement)}
                    </option>
                  ))}
              </optgroup>
              <optgroup label="Held out (never seen in training)">
                {templates
                  .filter((t) => t.heldOut)
                  .map((t) => (
                    <option key={t.id} value={t.id}>
                      {templateLabel(t.id, t.template.statement)}
                    </option>
                  ))}
              </optgroup>
            </select>
          </label>
          <label>
            Length{' '}
            <select
              value={String(lengths.includes(exampleOptions.contextLength) ? exampleOptions.contextLength : (lengths[0] ?? ''))}
              onChange={(e) => setExampleOptions({ contextLength: Number(e.target.value) })}
              data-testid="playground-example-length"
            >
              {lengths.map((l) => (
                <option key={l} value={l}>
                  {formatInt(l)} tokens
                </option>
              ))}
            </select>
          </label>
          <label>
            Depth{' '}
            <input
              type="number"
              min={0}
              max={100}
              value={exampleOptions.depth}
              onChange={(e) => setExampleOptions({ depth: Math.max(0, Math.min(100, Number(e.target.value) || 0)) })}
              className="num-input"
              data-testid="playground-example-depth"
            />
            %
          </label>
          <label>
            Seed{' '}
            <input
              type="number"
              min={0}
              value={exampleOptions.seed}
              onChange={(e) => setExampleOptions({ seed: Math.max(0, Math.floor(Number(e.target.value) || 0)) })}
              className="num-input"
              data-testid="playground-example-seed"
            />
          </label>
          <button
            type="button"
            disabled={!modelId || exampleLoading}
            onClick={() => modelId && void insertExample(modelId, card ? { contextLength: card.contextLength } : {})}
            data-testid="playground-insert-example"
          >
            {exampleLoading ? 'Generating…' : 'Insert example'}
          </button>
        </div>
        {example && prompt.includes(example.needle) ? (
          <p className="muted small" data-testid="playground-example-info" data-answer={example.answers.join(' ')}>
            {describeExample(example)}
          </p>
        ) : null}
        {exampleError ? (
          <p className="error" role="alert" data-testid="playground-example-error">
            {exampleError}
          </p>
        ) : null}
        <label htmlFor="pg-prompt">Prompt</label>
        <textarea
          id="pg-prompt"
          rows={5}
          value={prompt}
          placeholder={exampleLoading ? 'Generating an example…' : 'A prompt, or Insert example above'}
          onChange={(e) => setPrompt(e.target.value)}
          data-testid="playground-prompt"
        />
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
            <span className="muted small" data-testid="playground-prefill">
              {prefillLine(response.results[0])}
            </span>
          </div>
          {(response.warnings ?? []).map((w) => (
            <p key={w} className="warning" role="alert" data-testid="playground-warning">
              {w}
            </p>
          ))}
          <div className="pg-results" data-testid="playground-results" style={{ gridTemplateColumns: `repeat(${response.results.length}, minmax(0, 1fr))` }}>
            {response.results.map((r, i) => (
              <ResultColumn
                key={`${r.label}-${i}`}
                index={i}
                result={r}
                tokens={response.tokens}
                layer={layer}
                head={head}
                example={responseExample}
                needle={needleSpan}
              />
            ))}
          </div>
        </>
      ) : null}
    </section>
  );
}

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
function ResultColumn({
  result,
  tokens,
  layer,
  head,
  index,
  example,
  needle,
}: {
  result: PlaygroundResult;
  tokens: readonly string[];
  layer: number;
  head: number | 'all';
  index: number;
  example: PlaygroundExample | null;
  needle: { start: number; end: number } | null;
}) {
  const share = result.fullBytes > 0 ? result.kvBytes / result.fullBytes : 1;
  const text = decodeByteTokens(result.text);
  // Whole numbers only (niah_whole): "435088888" is not the passkey 43508, though RULER's substring match would count it.
  const right = example ? niahWholeScore(text, example.answers) === 1 : null;
  const compressed = result.kept.length > 0;
  return (
    <article className="card pg-column" data-testid="playground-column" data-label={result.label} data-index={index}>
      <header>
        <h3 className="mono">{result.label}</h3>
        <div className="pg-stats">
          <span data-testid="pg-rate" title="Generation speed after the prefill: new tokens per second of decoding with this cache">
            decode {formatRate(result.tokensPerSecond)}
          </span>
          <span data-testid="pg-kv">
            KV {formatBytes(result.kvBytes)} / {formatBytes(result.fullBytes)} ({formatPercent(share)})
          </span>
        </div>
        <div className="kv-bar" title={`${formatPercent(share)} of the full cache`}>
          <div className="kv-bar-fill" style={{ width: `${Math.min(100, share * 100).toFixed(1)}%` }} />
        </div>
        {result.layerBudgets.length && compressed ? (
          <p
            className="muted small mono"
            data-testid="pg-layer-budgets"
            title="Tokens each KV head keeps in each layer, from layer 0 on (the allocator's budget per head). Every head picks its own tokens, so the overlay's count for all heads, the union, can be larger."
          >
            budgets/layer (tokens per KV head): {result.layerBudgets.join(' · ')}
          </p>
        ) : null}
        {(result.notices ?? []).map((notice) => (
          <p key={notice} className="muted small" data-testid="pg-notice">
            note: {notice}
          </p>
        ))}
        {example && right !== null ? (
          <p className={`small ${right ? 'ok' : 'error'}`} data-testid="pg-verdict" data-right={right ? '1' : '0'}>
            {right ? `✓ answers ${example.answers.join(', ')}` : `✗ expected ${example.answers.join(', ')}`}
          </p>
        ) : null}
      </header>
      <p className="pg-text" data-testid="pg-text">
        {text}
      </p>
      <RetentionOverlay
        tokens={tokens}
        kept={result.kept}
        layer={layer}
        head={head}
        layerBudget={compressed ? result.layerBudgets[layer] : undefined}
        needle={needle}
        testId="retention-overlay"
      />
    </article>
  );
}

/** "train-0 · Keep this number in mind, it is the passkey: …": an option of the template picker. */
function templateLabel(id: string, statement: string): string {
  const s = statement.replaceAll('{key}', '…').replaceAll('{value}', '…');
  return `${id} · ${s.length > 60 ? `${s.slice(0, 57)}…` : s}`;
}

/** What the inserted example is and what a right answer contains. */
export function describeExample(e: PlaygroundExample): string {
  const trained = e.template.startsWith('train-') ? 'trained template' : 'held-out template';
  return `${e.kind === 'passkey' ? 'Passkey' : 'Needle'} example: ${trained} ${e.template}, ${formatInt(e.promptTokens)} tokens, needle at ${e.depth} % depth, seed ${e.seed}. The answer is ${e.answers.join(', ')}.`;
}

/** The prefill, which every column shares (one full-attention pass feeds them all): its tokens, time and rate. */
export function prefillLine(r: PlaygroundResult | undefined): string {
  if (!r) return '';
  const rate = r.prefillMs > 0 ? r.promptTokens / (r.prefillMs / 1000) : 0;
  return `prefill ${formatInt(r.promptTokens)} prompt tokens in ${formatInt(r.prefillMs)} ms (${formatRate(rate)}), shared by every column`;
}
