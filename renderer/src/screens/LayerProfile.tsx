/**
 * Layer profile: LMBA and LMBO per layer for the selected model and a prompt
 * (the ZigZagKV paper's figures), the layer uncertainty, and the budgets
 * every layer allocator in core's registry would give at a chosen total,
 * side by side — computed here in the renderer from the profile's numbers
 * with the same core code the engine runs (util/layer-allocations.ts). A
 * "custom" allocation can be edited by dragging its bars (the total is
 * conserved) and saved, which adds it to the experiment builder's methods.
 *
 * The model is the store's selected model; the form, the profile and the
 * custom allocation live in the store's layer-profile slice so they survive
 * a visit to another screen; the model card (for byte budgets) is fetched
 * here, as transient state.
 */
import type { KvModelShape, LayerProfile, ModelCard } from '@kvlab/core';
import { allocatorColors, parseBudget, resolveBudget } from '@kvlab/core';
import type { ReactNode } from 'react';
import { useEffect, useMemo, useState } from 'react';
import { rescaleTotal } from '../charts/budget-edit.ts';
import { LayerBudgetBars } from '../charts/LayerBudgetBars.tsx';
import { LayerProfileChart } from '../charts/LayerProfileChart.tsx';
import { CallProgress } from '../components/CallProgress.tsx';
import { useLab, useLabApi } from '../store/index.ts';
import type { ProfileForm } from '../store/layer-profile.ts';
import type { AllocatorResult } from '../util/layer-allocations.ts';
import { allocateAll, customMethodEntry, defaultMinPerLayer, niahPrompt } from '../util/layer-allocations.ts';

const shapeOf = (card: ModelCard | null, layers: number): KvModelShape => ({
  numLayers: layers,
  numKvHeads: Math.max(1, card?.kvHeads ?? 1),
  headDim: Math.max(1, card?.headDim ?? 1),
  dtype: 'float32',
});

export function LayerProfileScreen(): ReactNode {
  const modelId = useLab((s) => s.selectedModelId);
  const profile = useLab((s) => (s.layerProfile.modelId === s.selectedModelId ? s.layerProfile.profile : null));
  return (
    <section className="screen" data-testid="screen-profile">
      <ModelPicker />
      <header className="screen-header">
        <h1>Layer profile</h1>
        {modelId ? (
          <p className="muted">
            LMBA (fewest tokens that keep τ of a layer's attention mass) and LMBO (fewest that keep its attention output within cosine τO) per layer, and what
            each layer allocator would give at a total budget.
          </p>
        ) : (
          <p className="muted">Pick a model on the Models screen to profile its layers.</p>
        )}
      </header>
      {modelId ? <ProfileFormCard modelId={modelId} /> : null}
      {modelId && profile ? <ProfileResults modelId={modelId} profile={profile} /> : null}
    </section>
  );
}

function ModelPicker(): ReactNode {
  const models = useLab((s) => s.models);
  const modelId = useLab((s) => s.selectedModelId);
  const selectModel = useLab((s) => s.selectModel);
  return (
    <div className="mount-bar row gap">
      <label>
        Model{' '}
        <select value={modelId ?? ''} onChange={(e) => void selectModel(e.target.value)} data-testid="profile-model-select">
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

// -- The form: what to profile -----------------------------------------------------

/** The profile in flight: waiting, loading, the prefill's tokens, LMBO's layers; and Cancel. */
function ProfileProgress(): ReactNode {
  const requestId = useLab((s) => s.layerProfile.requestId);
  const progress = useLab((s) => s.layerProfile.progress);
  const cancel = useLab((s) => s.cancelLayerProfile);
  return <CallProgress key={requestId} progress={progress} onCancel={cancel} testId="profile-progress" />;
}

function ProfileFormCard({ modelId }: { modelId: string }): ReactNode {
  const form = useLab((s) => s.profileForm);
  const busy = useLab((s) => s.layerProfile.modelId === modelId && s.layerProfile.busy);
  const error = useLab((s) => (s.layerProfile.modelId === modelId ? s.layerProfile.error : null));
  const update = useLab((s) => s.updateProfileForm);
  const runLayerProfile = useLab((s) => s.runLayerProfile);
  const prompt = useMemo(() => (form.source === 'niah' ? niahPrompt(form.tokens, form.depth) : form.text), [form.source, form.tokens, form.depth, form.text]);
  return (
    <div className="card">
      <div className="row gap wrap">
        <SourceInputs form={form} update={update} />
        <TauInputs form={form} update={update} />
        <button type="button" onClick={() => void runLayerProfile(modelId, prompt)} disabled={busy || !prompt.trim()} data-testid="profile-run">
          {busy ? 'Profiling…' : 'Profile'}
        </button>
      </div>
      {busy ? <ProfileProgress /> : null}
      {form.source === 'text' ? (
        <textarea
          value={form.text}
          onChange={(e) => update({ text: e.currentTarget.value })}
          rows={5}
          style={{ width: '100%', marginTop: 6 }}
          placeholder="Paste a prompt to profile"
          data-testid="profile-text"
        />
      ) : (
        <p className="muted small" data-testid="profile-prompt-note">
          A needle-in-a-haystack prompt from core's generator, ≈{form.tokens} tokens by a rough count (4 characters per token: the tokenizer lives in the
          engine); the profile reports the exact count. {prompt.length} characters.
        </p>
      )}
      {error ? (
        <p role="alert" className="notice notice-error" data-testid="profile-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

interface FormProps {
  readonly form: ProfileForm;
  readonly update: (patch: Partial<ProfileForm>) => void;
}

/** NIAH sample (its rough length and needle depth) or the user's text. */
function SourceInputs({ form, update }: FormProps): ReactNode {
  return (
    <>
      <label className="small">
        <input
          type="radio"
          name="profile-source"
          checked={form.source === 'niah'}
          onChange={() => update({ source: 'niah' })}
          data-testid="profile-source-niah"
        />{' '}
        NIAH sample
      </label>
      <label className="small">
        <input
          type="radio"
          name="profile-source"
          checked={form.source === 'text'}
          onChange={() => update({ source: 'text' })}
          data-testid="profile-source-text"
        />{' '}
        my text
      </label>
      {form.source === 'niah' ? (
        <>
          <label className="small">
            ≈ tokens{' '}
            <input
              type="number"
              min={32}
              max={131072}
              step={32}
              value={form.tokens}
              onChange={(e) => update({ tokens: Math.max(32, Number(e.currentTarget.value) || 32) })}
              data-testid="profile-tokens"
            />
          </label>
          <label className="small">
            depth %{' '}
            <input
              type="number"
              min={0}
              max={100}
              value={form.depth}
              onChange={(e) => update({ depth: Math.min(100, Math.max(0, Number(e.currentTarget.value) || 0)) })}
              data-testid="profile-depth"
            />
          </label>
        </>
      ) : null}
    </>
  );
}

/** τ (LMBA's attention-mass share) and, when LMBO is on, τO (its cosine threshold). */
function TauInputs({ form, update }: FormProps): ReactNode {
  return (
    <>
      <label className="small">
        τ{' '}
        <input
          type="number"
          min={0.5}
          max={0.999}
          step={0.01}
          value={form.tau}
          onChange={(e) => update({ tau: Number(e.currentTarget.value) })}
          data-testid="profile-tau"
        />
      </label>
      <label className="small">
        <input type="checkbox" checked={form.lmbo} onChange={(e) => update({ lmbo: e.currentTarget.checked })} data-testid="profile-lmbo" /> LMBO, τO{' '}
        <input
          type="number"
          min={0.5}
          max={0.999}
          step={0.01}
          value={form.tauO}
          disabled={!form.lmbo}
          onChange={(e) => update({ tauO: Number(e.currentTarget.value) })}
        />
      </label>
    </>
  );
}

// -- The results: the profile and the allocations ------------------------------------

function ProfileResults({ modelId, profile }: { modelId: string; profile: LayerProfile }): ReactNode {
  const lmbo = useLab((s) => s.profileForm.lmbo);
  return (
    <>
      <div className="card">
        <p className="small muted" data-testid="profile-summary">
          {profile.promptTokens} prompt tokens · {profile.lmba.length} layers · τ {profile.tau}
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
      <AllocationsCard modelId={modelId} profile={profile} />
    </>
  );
}

/** The model's card, for byte budgets; null until it arrives (the profile works without it). */
function useModelCard(modelId: string): ModelCard | null {
  const api = useLabApi();
  const [card, setCard] = useState<ModelCard | null>(null);
  useEffect(() => {
    setCard(null);
    let live = true;
    api.getModelCard({ modelId }).then(
      (c) => live && setCard(c),
      () => undefined, // the card only adds byte figures; the profile works without it
    );
    return () => {
      live = false;
    };
  }, [api, modelId]);
  return card;
}

/** The total budget resolved on the profile, every allocator's split of it, and the custom bars (following the total when it changes). */
function useAllocations(modelId: string, profile: LayerProfile) {
  const card = useModelCard(modelId);
  const budgetText = useLab((s) => s.profileForm.budgetText);
  const custom = useLab((s) => s.layerProfile.custom);
  const layers = profile.lmba.length;
  const resolved = useMemo(() => {
    if (layers === 0) return null;
    try {
      return { budget: resolveBudget(parseBudget(budgetText), shapeOf(card, layers), profile.promptTokens), error: null };
    } catch (e) {
      return { budget: null, error: e instanceof Error ? e.message : String(e) };
    }
  }, [profile, layers, budgetText, card]);
  const total = resolved?.budget?.totalTokens ?? 0;
  const minPerLayer = defaultMinPerLayer(profile.promptTokens);
  const maxPerLayer = profile.promptTokens;
  const results = useMemo(() => (total > 0 ? allocateAll(profile, total, minPerLayer) : []), [profile, total, minPerLayer]);
  const ran = results.filter((r): r is AllocatorResult & { budgets: number[] } => r.budgets !== null);
  // The custom allocation starts from ZigZagKV's (or the first that ran) and follows the total when it changes.
  const start = ran.find((r) => r.id === 'zigzagkv') ?? ran[0];
  const customBudgets = useMemo(() => {
    if (!start || total <= 0) return null;
    if (!custom) return start.budgets;
    const held = custom.reduce((a, b) => a + b, 0);
    return held === total ? custom : rescaleTotal(custom, total, { min: minPerLayer, max: maxPerLayer });
  }, [custom, start, total, minPerLayer, maxPerLayer]);
  return { budgetText, layers, resolved, results, ran, customBudgets, minPerLayer, maxPerLayer };
}

function AllocationsCard({ modelId, profile }: { modelId: string; profile: LayerProfile }): ReactNode {
  const a = useAllocations(modelId, profile);
  const update = useLab((s) => s.updateProfileForm);
  const setCustom = useLab((s) => s.setCustomBudgets);
  // Coloured as the report and the Compare screen colour a run's allocators: the palette over those drawn, in sorted order.
  const colors = allocatorColors(a.ran.map((r) => r.id));
  return (
    <div className="card">
      <div className="row gap wrap">
        <label className="small">
          total budget{' '}
          <input
            value={a.budgetText}
            onChange={(e) => update({ budgetText: e.currentTarget.value })}
            size={10}
            data-testid="profile-budget"
            aria-describedby="profile-budget-help"
          />
        </label>
        <span id="profile-budget-help" className="small muted" data-testid="profile-total">
          {a.resolved?.budget
            ? `${a.resolved.budget.totalTokens} tokens per KV head over ${a.layers} layers (${(a.resolved.budget.keepRatio * 100).toFixed(1)} % of the prompt cache)`
            : (a.resolved?.error ?? '')}
        </span>
      </div>
      {a.results.length && a.customBudgets ? (
        <>
          <LayerBudgetBars
            testId="profile-allocations"
            title={`Budgets per layer at ${a.budgetText}`}
            series={a.ran.map((r) => ({ name: r.id, color: colors.get(r.id) ?? '#000000', budgets: r.budgets }))}
            lmba={profile.lmba}
            editable={{ budgets: a.customBudgets, min: a.minPerLayer, max: a.maxPerLayer, onChange: setCustom }}
          />
          <SkippedAllocators results={a.results} />
          <CustomActions ran={a.ran} customBudgets={a.customBudgets} />
        </>
      ) : null}
    </div>
  );
}

/** Allocators that need statistics a profile does not measure (CAKE), and why. */
function SkippedAllocators({ results }: { results: readonly AllocatorResult[] }): ReactNode {
  return (
    <ul className="small muted" data-testid="profile-skipped" style={{ margin: '4px 0', paddingLeft: 18 }}>
      {results
        .filter((r) => r.budgets === null)
        .map((r) => (
          <li key={r.id} data-allocator={r.id}>
            {r.label}: not shown — {r.error}
          </li>
        ))}
    </ul>
  );
}

/** Reset the custom bars to an allocator's, save them, and show the method entry the saved allocation runs as. */
function CustomActions({ ran, customBudgets }: { ran: readonly (AllocatorResult & { budgets: number[] })[]; customBudgets: number[] }): ReactNode {
  const setCustom = useLab((s) => s.setCustomBudgets);
  const save = useLab((s) => s.saveCustomAllocation);
  const saved = useLab((s) => (s.layerProfile.modelId === s.selectedModelId ? s.layerProfile.saved : null));
  return (
    <>
      <div className="row gap wrap">
        <span className="small">Reset custom to</span>
        {ran.map((r) => (
          <button key={r.id} type="button" onClick={() => setCustom(r.budgets)} data-testid={`profile-reset-${r.id}`}>
            {r.label}
          </button>
        ))}
        <button type="button" data-testid="profile-save-custom" onClick={() => save(customBudgets)}>
          Save custom allocation
        </button>
      </div>
      {saved ? (
        <div data-testid="profile-saved">
          <p className="small">
            Saved and added to the Experiment builder’s methods. The method entry it runs as (ZigZagKV with the custom budgets as a static profile):
          </p>
          <pre className="mono small" style={{ whiteSpace: 'pre-wrap' }}>
            {JSON.stringify(customMethodEntry(saved))}
          </pre>
        </div>
      ) : null}
    </>
  );
}
