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
import type { ExampleKind, MethodInfo, ModelCard, PlaygroundExample, PlaygroundResponse, PlaygroundResult } from '@kvlab/core';
import { exampleTemplates, formatBytes, formatInt, formatPercent, formatRate, niahWholeScore } from '@kvlab/core';
import { CallProgress } from '../components/CallProgress.tsx';
import { RetentionOverlay } from '../components/RetentionOverlay.tsx';
import { useLab } from '../store/index.ts';
import { exampleLengths, MAX_PLAYGROUND_CONFIGS, type PlaygroundConfig } from '../store/playground.ts';
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

export function PlaygroundScreen() {
  const modelId = useLab((s) => s.selectedModelId);
  const card = useLab((s) => (s.selectedModelId ? s.cards[s.selectedModelId] : undefined));
  const response = useLab((s) => s.response);
  useFirstExample(modelId, card);
  return (
    <section className="screen screen-playground" data-testid="screen-playground">
      <header className="screen-header">
        <h1>Playground</h1>
        <p className="muted">
          Model: <strong>{card?.name ?? 'none selected'}</strong>. One prompt, the full cache and up to {MAX_PLAYGROUND_CONFIGS} compressed configurations.
        </p>
      </header>
      <PlaygroundForm modelId={modelId} card={card} />
      {response ? <PlaygroundResults response={response} card={card} /> : null}
    </section>
  );
}

type Card = ModelCard | undefined;

/** Loads the selected model's card, then — once it says how long a prompt fits — inserts the default example into an empty prompt. */
function useFirstExample(modelId: string | null, card: Card): void {
  const prompt = useLab((s) => s.prompt);
  const example = useLab((s) => s.example);
  const exampleLoading = useLab((s) => s.exampleLoading);
  const exampleError = useLab((s) => s.exampleError);
  const insertExample = useLab((s) => s.insertExample);
  const loadCard = useLab((s) => s.loadCard);
  useEffect(() => {
    if (modelId) void loadCard(modelId);
  }, [modelId, loadCard]);
  // The first thing the Playground shows is the default example, once the model's card says how long a prompt fits.
  useEffect(() => {
    if (modelId && card && prompt === '' && example === null && !exampleLoading && exampleError === null)
      void insertExample(modelId, { contextLength: card.contextLength, ifEmpty: true });
  }, [modelId, card, prompt, example, exampleLoading, exampleError, insertExample]);
}

/** The prompt, its example picker, the configurations and Run. */
function PlaygroundForm({ modelId, card }: { modelId: string | null; card: Card }) {
  const prompt = useLab((s) => s.prompt);
  const error = useLab((s) => s.playgroundError);
  const exampleLoading = useLab((s) => s.exampleLoading);
  const setPrompt = useLab((s) => s.setPrompt);
  const run = useLab((s) => s.runPlayground);
  return (
    <form
      className="card playground-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (modelId) void run(modelId);
      }}
    >
      <ExamplePicker modelId={modelId} card={card} />
      <ExampleNotes />
      <label htmlFor="pg-prompt">Prompt</label>
      <textarea
        id="pg-prompt"
        rows={5}
        value={prompt}
        placeholder={exampleLoading ? 'Generating an example…' : 'A prompt, or Insert example above'}
        onChange={(e) => setPrompt(e.target.value)}
        data-testid="playground-prompt"
      />
      <ConfigList />
      <RunRow modelId={modelId} />
      {error ? (
        <p className="error" role="alert" data-testid="playground-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** "Insert example" and what it asks for: kind, template, length, depth, seed. */
function ExamplePicker({ modelId, card }: { modelId: string | null; card: Card }) {
  const exampleOptions = useLab((s) => s.exampleOptions);
  const exampleLoading = useLab((s) => s.exampleLoading);
  const setExampleOptions = useLab((s) => s.setExampleOptions);
  const insertExample = useLab((s) => s.insertExample);
  return (
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
      <TemplateSelect />
      <LengthSelect contextLength={card?.contextLength} />
      <ExampleNumbers />
      <button
        type="button"
        disabled={!modelId || exampleLoading}
        onClick={() => modelId && void insertExample(modelId, card ? { contextLength: card.contextLength } : {})}
        data-testid="playground-insert-example"
      >
        {exampleLoading ? 'Generating…' : 'Insert example'}
      </button>
    </div>
  );
}

/** The templates of the chosen kind, the trained ones apart from the held-out ones. */
function TemplateSelect() {
  const exampleOptions = useLab((s) => s.exampleOptions);
  const setExampleOptions = useLab((s) => s.setExampleOptions);
  const templates = useMemo(() => exampleTemplates(exampleOptions.kind), [exampleOptions.kind]);
  const options = (heldOut: boolean) =>
    templates
      .filter((t) => t.heldOut === heldOut)
      .map((t) => (
        <option key={t.id} value={t.id}>
          {templateLabel(t.id, t.template.statement)}
        </option>
      ));
  return (
    <label>
      Template{' '}
      <select
        value={exampleOptions.template}
        onChange={(e) => setExampleOptions({ template: e.target.value })}
        data-testid="playground-example-template"
        className="pg-template"
      >
        <optgroup label="Trained format (the demo model learnt these)">{options(false)}</optgroup>
        <optgroup label="Held out (never seen in training)">{options(true)}</optgroup>
      </select>
    </label>
  );
}

/** The example lengths that fit the model's context. */
function LengthSelect({ contextLength }: { contextLength: number | undefined }) {
  const wanted = useLab((s) => s.exampleOptions.contextLength);
  const setExampleOptions = useLab((s) => s.setExampleOptions);
  const lengths = useMemo(() => exampleLengths(contextLength), [contextLength]);
  return (
    <label>
      Length{' '}
      <select
        value={String(lengths.includes(wanted) ? wanted : (lengths[0] ?? ''))}
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
  );
}

/** The needle's depth (0–100 %) and the generator's seed. */
function ExampleNumbers() {
  const exampleOptions = useLab((s) => s.exampleOptions);
  const setExampleOptions = useLab((s) => s.setExampleOptions);
  return (
    <>
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
    </>
  );
}

/** What the inserted example is (while its needle is still in the prompt), or why inserting one failed. */
function ExampleNotes() {
  const prompt = useLab((s) => s.prompt);
  const example = useLab((s) => s.example);
  const exampleError = useLab((s) => s.exampleError);
  return (
    <>
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
    </>
  );
}

/** One fieldset per compressed configuration (method and budget), and "+ Add configuration" while there is room. */
function ConfigList() {
  const configs = useLab((s) => s.configs);
  const methodInfo = useLab((s) => s.methodInfo);
  const addConfig = useLab((s) => s.addConfig);
  const choices = useMemo(() => methodChoices(methodInfo), [methodInfo]);
  return (
    <div className="row gap wrap">
      {configs.map((c, i) => (
        <ConfigFieldset key={i} index={i} config={c} choices={choices} />
      ))}
      {configs.length < MAX_PLAYGROUND_CONFIGS ? (
        <button type="button" onClick={addConfig} data-testid="playground-add-config">
          + Add configuration
        </button>
      ) : null}
    </div>
  );
}

function ConfigFieldset({ index: i, config: c, choices }: { index: number; config: PlaygroundConfig; choices: readonly string[] }) {
  const setConfig = useLab((s) => s.setConfig);
  const removeConfig = useLab((s) => s.removeConfig);
  return (
    <fieldset className="config" data-testid={`playground-config-${i}`}>
      <legend>Config {i + 1}</legend>
      <select aria-label={`Method ${i + 1}`} value={c.method} onChange={(e) => setConfig(i, { method: e.target.value })} data-testid={`playground-method-${i}`}>
        {/* The config's own method stays an option even where the engine's list does not offer it. */}
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
      <button type="button" className="link" onClick={() => removeConfig(i)} aria-label={`Remove config ${i + 1}`} data-testid={`playground-remove-${i}`}>
        Remove
      </button>
    </fieldset>
  );
}

/** The generation cap and Run. */
function RunRow({ modelId }: { modelId: string | null }) {
  const prompt = useLab((s) => s.prompt);
  const maxNewTokens = useLab((s) => s.maxNewTokens);
  const running = useLab((s) => s.playgroundRunning);
  const setMax = useLab((s) => s.setMaxNewTokens);
  return (
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
      {running ? <RunProgress /> : null}
    </div>
  );
}

/** The run in flight: waiting, loading, the prefill's tokens, each configuration's generation; and Cancel. */
function RunProgress() {
  const requestId = useLab((s) => s.playgroundRequest);
  const progress = useLab((s) => s.playgroundProgress);
  const cancel = useLab((s) => s.cancelPlayground);
  return <CallProgress key={requestId} progress={progress} onCancel={cancel} testId="playground-progress" />;
}

/** The response: the shared overlay controls, the engine's warnings and one column per configuration. */
function PlaygroundResults({ response, card }: { response: PlaygroundResponse; card: Card }) {
  const layer = useLab((s) => s.overlayLayer);
  const head = useLab((s) => s.overlayHead);
  const responseExample = useLab((s) => s.responseExample);
  const needleSpan = useMemo(() => (responseExample ? findTextSpan(response.tokens, responseExample.needle) : null), [response, responseExample]);
  return (
    <>
      <OverlayControls response={response} card={card} />
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
  );
}

/** The layer slider and KV head picker every column's overlay follows, and the shared prefill. */
function OverlayControls({ response, card }: { response: PlaygroundResponse; card: Card }) {
  const layer = useLab((s) => s.overlayLayer);
  const head = useLab((s) => s.overlayHead);
  const setOverlay = useLab((s) => s.setOverlay);
  // A compressed column's retention says how many layers and heads there are; the card does when only the full cache ran.
  const layers = response.results.find((r) => r.kept.length)?.kept.length ?? card?.layers ?? 0;
  const kvHeads = response.results.find((r) => r.kept.length)?.kept[0]?.length ?? card?.kvHeads ?? 0;
  return (
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
  );
}

interface ResultColumnProps {
  readonly result: PlaygroundResult;
  readonly tokens: readonly string[];
  readonly layer: number;
  readonly head: number | 'all';
  readonly index: number;
  readonly example: PlaygroundExample | null;
  readonly needle: { start: number; end: number } | null;
}

/** One configuration's answer: its stats, its text and which prompt tokens it kept. */
function ResultColumn({ result, tokens, layer, head, index, example, needle }: ResultColumnProps) {
  const text = decodeByteTokens(result.text);
  const compressed = result.kept.length > 0;
  return (
    <article className="card pg-column" data-testid="playground-column" data-label={result.label} data-index={index}>
      <header>
        <h3 className="mono">{result.label}</h3>
        <ResultStats result={result} />
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
        {example ? <Verdict text={text} answers={example.answers} /> : null}
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

/** Decode speed, and the KV bytes held against the full cache (as text and as a bar). */
function ResultStats({ result }: { result: PlaygroundResult }) {
  const share = result.fullBytes > 0 ? result.kvBytes / result.fullBytes : 1;
  return (
    <>
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
    </>
  );
}

/** Whether the answer holds the example's expected number. */
function Verdict({ text, answers }: { text: string; answers: readonly string[] }) {
  // Whole numbers only (niah_whole): "435088888" is not the passkey 43508, though RULER's substring match would count it.
  const right = niahWholeScore(text, answers) === 1;
  return (
    <p className={`small ${right ? 'ok' : 'error'}`} data-testid="pg-verdict" data-right={right ? '1' : '0'}>
      {right ? `✓ answers ${answers.join(', ')}` : `✗ expected ${answers.join(', ')}`}
    </p>
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
