/**
 * Layer profile: LMBA and LMBO per layer for the loaded model and a prompt
 * (the ZigZagKV paper's figures), the layer uncertainty, and the budgets
 * every layer allocator in core's registry would give at a chosen total,
 * side by side — computed here in the renderer from the profile's numbers
 * with the same core code the engine runs. A "custom" allocation can be
 * edited by dragging its bars (the total is conserved) and saved.
 *
 * Running a custom allocation: core's ZigZagKV with `allocation:
 * 'staticProfile'`, `staticLmba` = the custom budgets and `boundRatio: 0`
 * gives budget_l = total · b_l / Σb — exactly the custom budgets at their
 * own total and the same shape scaled at any other — so the saved
 * allocation runs as an ordinary method entry (customMethodEntry below), no
 * new allocator needed.
 */
import type { KvModelShape, LabApi, LayerProfile, LayerStats, ModelCard } from '@kvlab/core';
import { ALLOCATORS, allocatorColors, defaultParams, generateWorkload, getAllocator, parseBudget, resolveBudget, SCORERS } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useEffect, useMemo, useState } from 'react';
import { rescaleTotal } from '../charts/budget-edit.ts';
import { LayerBudgetBars } from '../charts/LayerBudgetBars.tsx';
import { LayerProfileChart } from '../charts/LayerProfileChart.tsx';

export interface LayerProfileScreenProps {
  readonly api: LabApi;
  readonly modelId: string | null;
  /** Called when the user saves the custom allocation (tokens per KV head per layer). */
  readonly onCustomAllocation?: (budgets: number[]) => void;
}

// -- Pure helpers (exported for the tests) -------------------------------------

/**
 * A rough token counter for building prompts in the renderer: ~4 characters
 * per token (English BPE average). The renderer has no tokenizer (it lives in
 * the engine), so a "512-token" sample here is about 512 tokens; the profile
 * reports the exact count the model saw (promptTokens).
 */
export const roughCounter = { count: (text: string): number => Math.max(1, Math.ceil(text.length / 4)) };

/** A NIAH prompt of about `tokens` tokens with the needle at `depth` % (core's generator, filler haystack: no files needed). */
export function niahPrompt(tokens: number, depth: number, seed = 1): string {
  const [sample] = generateWorkload({ kind: 'niah', variant: 'single', contextLengths: [tokens], depths: [depth] }, { seed, counter: roughCounter });
  return sample?.prompt ?? '';
}

export interface AllocatorResult {
  readonly id: string;
  readonly label: string;
  /** Tokens per KV head per layer, or null when the allocator needs statistics the profile does not have. */
  readonly budgets: number[] | null;
  readonly error?: string;
}

/** The smallest budget a layer may get with the default scorer (SnapKV): its protected window + 1, as the pipeline computes it. */
export function defaultMinPerLayer(promptTokens: number): number {
  const snap = SCORERS.snapkv;
  const protect = snap.protect(defaultParams(snap));
  return Math.min(promptTokens, protect.sinks + protect.window + 1);
}

/**
 * Every registry allocator at its default parameters on the profile's
 * numbers: LMBA per layer (ZigZagKV), the prompt length, `total` tokens per
 * KV head summed over layers. CAKE needs per-layer attention entropy and
 * variance, which a profile does not measure: it comes back with an error.
 */
export function allocateAll(
  profile: Pick<LayerProfile, 'lmba' | 'promptTokens'>,
  total: number,
  minPerLayer = defaultMinPerLayer(profile.promptTokens),
): AllocatorResult[] {
  const stats: LayerStats = { numLayers: profile.lmba.length, seqLen: profile.promptTokens, minPerLayer, lmba: Float64Array.from(profile.lmba) };
  return Object.keys(ALLOCATORS).map((id) => {
    const a = getAllocator(id);
    try {
      return { id, label: a.label, budgets: Array.from(a.allocate(stats, total, defaultParams(a))) };
    } catch (e) {
      return { id, label: a.label, budgets: null, error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** The experiment method entry that runs a custom allocation (see the file header). */
export function customMethodEntry(
  budgets: readonly number[],
  label = 'custom',
): {
  method: string;
  label: string;
  allocator: { allocation: 'staticProfile'; staticLmba: number[]; boundRatio: 0 };
} {
  return { method: 'snapkv/zigzagkv', label, allocator: { allocation: 'staticProfile', staticLmba: [...budgets], boundRatio: 0 } };
}

const shapeOf = (card: ModelCard | null, layers: number): KvModelShape => ({
  numLayers: layers,
  numKvHeads: Math.max(1, card?.kvHeads ?? 1),
  headDim: Math.max(1, card?.headDim ?? 1),
  dtype: 'float32',
});

// -- The screen -----------------------------------------------------------------

type Source = 'niah' | 'text';

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function LayerProfileScreen(props: LayerProfileScreenProps): ReactNode {
  const { api, modelId } = props;
  const [source, setSource] = useState<Source>('niah');
  const [tokens, setTokens] = useState(512);
  const [depth, setDepth] = useState(50);
  const [text, setText] = useState('');
  const [tau, setTau] = useState(0.9);
  const [tauO, setTauO] = useState(0.95);
  const [lmbo, setLmbo] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [profile, setProfile] = useState<LayerProfile | null>(null);
  const [card, setCard] = useState<ModelCard | null>(null);
  const [budgetText, setBudgetText] = useState('20%');
  const [custom, setCustom] = useState<number[] | null>(null);
  const [saved, setSaved] = useState<number[] | null>(null);

  useEffect(() => {
    setProfile(null);
    setCustom(null);
    setSaved(null);
    setCard(null);
    if (!modelId) return undefined;
    let live = true;
    api.getModelCard({ modelId }).then(
      (c) => live && setCard(c),
      () => undefined, // the card only adds byte figures; the profile works without it
    );
    return () => {
      live = false;
    };
  }, [api, modelId]);

  const prompt = useMemo(() => (source === 'niah' ? niahPrompt(tokens, depth) : text), [source, tokens, depth, text]);

  const run = (): void => {
    if (!modelId || !prompt.trim()) return;
    setBusy(true);
    setError(null);
    api
      .profileModel({ modelId, prompt, tau, tauO, lmbo })
      .then((p) => {
        setProfile(p);
        setCustom(null);
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)))
      .finally(() => setBusy(false));
  };

  const layers = profile?.lmba.length ?? 0;
  const resolved = useMemo(() => {
    if (!profile || layers === 0) return null;
    try {
      return { budget: resolveBudget(parseBudget(budgetText), shapeOf(card, layers), profile.promptTokens), error: null };
    } catch (e) {
      return { budget: null, error: e instanceof Error ? e.message : String(e) };
    }
  }, [profile, layers, budgetText, card]);
  const total = resolved?.budget?.totalTokens ?? 0;
  const minPerLayer = profile ? defaultMinPerLayer(profile.promptTokens) : 1;
  const results = useMemo(() => (profile && total > 0 ? allocateAll(profile, total, minPerLayer) : []), [profile, total, minPerLayer]);
  const ran = results.filter((r): r is AllocatorResult & { budgets: number[] } => r.budgets !== null);
  // Coloured as the report and the Compare screen colour a run's allocators: the palette over those drawn, in sorted order.
  const colors = allocatorColors(ran.map((r) => r.id));
  // The custom allocation starts from ZigZagKV's (or the first that ran) and follows the total when it changes.
  const start = ran.find((r) => r.id === 'zigzagkv') ?? ran[0];
  const maxPerLayer = profile?.promptTokens ?? total;
  const customBudgets = useMemo(() => {
    if (!start || total <= 0) return null;
    if (!custom) return start.budgets;
    const held = custom.reduce((a, b) => a + b, 0);
    return held === total ? custom : rescaleTotal(custom, total, { min: minPerLayer, max: maxPerLayer });
  }, [custom, start, total, minPerLayer, maxPerLayer]);

  if (!modelId)
    return (
      <section className="screen" data-testid="screen-profile">
        <header className="screen-header">
          <h1>Layer profile</h1>
          <p className="muted">Pick a model on the Models screen to profile its layers.</p>
        </header>
      </section>
    );

  return (
    <section className="screen" data-testid="screen-profile">
      <header className="screen-header">
        <h1>Layer profile</h1>
        <p className="muted">
          LMBA (fewest tokens that keep τ of a layer's attention mass) and LMBO (fewest that keep its attention output within cosine τO) per layer, and what
          each layer allocator would give at a total budget.
        </p>
      </header>
      <div className="card">
        <div className="row gap wrap">
          <label className="small">
            <input type="radio" name="profile-source" checked={source === 'niah'} onChange={() => setSource('niah')} data-testid="profile-source-niah" /> NIAH
            sample
          </label>
          <label className="small">
            <input type="radio" name="profile-source" checked={source === 'text'} onChange={() => setSource('text')} data-testid="profile-source-text" /> my
            text
          </label>
          {source === 'niah' ? (
            <>
              <label className="small">
                ≈ tokens{' '}
                <input
                  type="number"
                  min={32}
                  max={131072}
                  step={32}
                  value={tokens}
                  onChange={(e) => setTokens(Math.max(32, Number(e.currentTarget.value) || 32))}
                  data-testid="profile-tokens"
                />
              </label>
              <label className="small">
                depth %{' '}
                <input
                  type="number"
                  min={0}
                  max={100}
                  value={depth}
                  onChange={(e) => setDepth(Math.min(100, Math.max(0, Number(e.currentTarget.value) || 0)))}
                  data-testid="profile-depth"
                />
              </label>
            </>
          ) : null}
          <label className="small">
            τ{' '}
            <input
              type="number"
              min={0.5}
              max={0.999}
              step={0.01}
              value={tau}
              onChange={(e) => setTau(Number(e.currentTarget.value))}
              data-testid="profile-tau"
            />
          </label>
          <label className="small">
            <input type="checkbox" checked={lmbo} onChange={(e) => setLmbo(e.currentTarget.checked)} data-testid="profile-lmbo" /> LMBO, τO{' '}
            <input type="number" min={0.5} max={0.999} step={0.01} value={tauO} disabled={!lmbo} onChange={(e) => setTauO(Number(e.currentTarget.value))} />
          </label>
          <button type="button" onClick={run} disabled={busy || !prompt.trim()} data-testid="profile-run">
            {busy ? 'Profiling…' : 'Profile'}
          </button>
        </div>
        {source === 'text' ? (
          <textarea
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            rows={5}
            style={{ width: '100%', marginTop: 6 }}
            placeholder="Paste a prompt to profile"
            data-testid="profile-text"
          />
        ) : (
          <p className="muted small" data-testid="profile-prompt-note">
            A needle-in-a-haystack prompt from core's generator, ≈{tokens} tokens by a rough count (4 characters per token: the tokenizer lives in the engine);
            the profile reports the exact count. {prompt.length} characters.
          </p>
        )}
        {error ? (
          <p role="alert" className="notice notice-error" data-testid="profile-error">
            {error}
          </p>
        ) : null}
      </div>

      {profile ? (
        <>
          <div className="card">
            <p className="small muted" data-testid="profile-summary">
              {profile.promptTokens} prompt tokens · {layers} layers · τ {profile.tau}
              {lmbo ? ` · τO ${profile.tauO}` : ''}
            </p>
            <LayerProfileChart
              testId="profile-chart"
              lmba={profile.lmba}
              {...(profile.lmbo.length ? { lmbo: profile.lmbo } : {})}
              uncertainty={profile.uncertainty}
              {...(profile.lmbaPerHead.length ? { lmbaPerHead: profile.lmbaPerHead } : {})}
              tau={profile.tau}
              tauO={profile.tauO}
            />
          </div>
          <div className="card">
            <div className="row gap wrap">
              <label className="small">
                total budget{' '}
                <input
                  value={budgetText}
                  onChange={(e) => setBudgetText(e.currentTarget.value)}
                  size={10}
                  data-testid="profile-budget"
                  aria-describedby="profile-budget-help"
                />
              </label>
              <span id="profile-budget-help" className="small muted" data-testid="profile-total">
                {resolved?.budget
                  ? `${resolved.budget.totalTokens} tokens per KV head over ${layers} layers (${(resolved.budget.keepRatio * 100).toFixed(1)} % of the prompt cache)`
                  : (resolved?.error ?? '')}
              </span>
            </div>
            {results.length && customBudgets ? (
              <>
                <LayerBudgetBars
                  testId="profile-allocations"
                  title={`Budgets per layer at ${budgetText}`}
                  series={ran.map((r) => ({ name: r.id, color: colors.get(r.id) ?? '#000000', budgets: r.budgets }))}
                  lmba={profile.lmba}
                  editable={{ budgets: customBudgets, min: minPerLayer, max: maxPerLayer, onChange: setCustom }}
                />
                <ul className="small muted" data-testid="profile-skipped" style={{ margin: '4px 0', paddingLeft: 18 }}>
                  {results
                    .filter((r) => r.budgets === null)
                    .map((r) => (
                      <li key={r.id} data-allocator={r.id}>
                        {r.label}: not shown — {r.error}
                      </li>
                    ))}
                </ul>
                <div className="row gap wrap">
                  <span className="small">Reset custom to</span>
                  {ran.map((r) => (
                    <button key={r.id} type="button" onClick={() => setCustom(r.budgets)} data-testid={`profile-reset-${r.id}`}>
                      {r.label}
                    </button>
                  ))}
                  <button
                    type="button"
                    data-testid="profile-save-custom"
                    onClick={() => {
                      setSaved(customBudgets);
                      props.onCustomAllocation?.(customBudgets);
                    }}
                  >
                    Save custom allocation
                  </button>
                </div>
                {saved ? (
                  <div data-testid="profile-saved">
                    <p className="small">
                      {props.onCustomAllocation
                        ? 'Saved and added to the Experiment builder’s methods. The method entry it runs as (ZigZagKV with the custom budgets as a static profile):'
                        : 'Saved. To run it, add this method to an experiment (ZigZagKV with the custom budgets as a static profile):'}
                    </p>
                    <pre className="mono small" style={{ whiteSpace: 'pre-wrap' }}>
                      {JSON.stringify(customMethodEntry(saved))}
                    </pre>
                  </div>
                ) : null}
              </>
            ) : null}
          </div>
        </>
      ) : null}
    </section>
  );
}
