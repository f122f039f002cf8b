/**
 * Experiment builder: models × scorers × allocators (+ Ada-KV) × budgets ×
 * workloads, from the method registry (describeMethods) with its parameter
 * presets and the workload registry (each kind's form fields), plus
 * whole-experiment presets. Validation runs on every change with
 * core's parseExperiment (the CLI's messages), and the cost estimate — cells
 * and prefills, counted the way the runner expands the grid — is shown before
 * anything starts. Start queues the run and opens the Runs screen.
 */
import { useEffect, useMemo, type ReactNode } from 'react';
import type { MethodInfo, WorkloadField, WorkloadFormValues } from '@kvlab/core';
import { formatDuration, formatInt, WORKLOAD_KINDS, workloadFields, WORKLOADS } from '@kvlab/core';
import { useLab } from '../store/index.ts';
import {
  BUILDER_PRESETS,
  builderExperiment,
  contextIssues,
  validateExperiment,
  type AdaMode,
  type CustomMethodEntry,
  type WorkloadForm,
} from '../store/builder.ts';
import { estimateCost, estimateSeconds, speedFromRows, type CostEstimate as CostEstimateData } from '../util/cost.ts';

export function BuilderScreen() {
  const form = useLab((s) => s.builder);
  const models = useLab((s) => s.models);
  const methodInfo = useLab((s) => s.methodInfo);
  const experiment = useMemo(() => builderExperiment(form, models, methodInfo), [form, models, methodInfo]);
  const cards = useLab((s) => s.cards);
  const loadCard = useLab((s) => s.loadCard);
  // The checks compare workload lengths with each selected model's context, from its card.
  useEffect(() => {
    for (const id of form.modelIds) void loadCard(id);
  }, [form.modelIds, loadCard]);
  const issues = useMemo(() => [...validateExperiment(experiment), ...contextIssues(experiment, Object.values(cards))], [experiment, cards]);
  const cost = useMemo(() => estimateCost(experiment), [experiment]);

  return (
    <section className="screen screen-builder" data-testid="screen-builder">
      <header className="screen-header">
        <h1>Experiment builder</h1>
        <p className="muted">Every selected scorer is paired with every selected allocator; each pair runs at every budget on every sample.</p>
      </header>
      <div className="cols">
        <div className="col builder-form">
          <PresetAndName />
          <ModelsGroup />
          <MethodsGroup />
          <BudgetsGroup />
          <WorkloadsGroup />
          <RunSettingsGroup />
        </div>
        <aside className="col col-narrow builder-side">
          <div className="card sticky">
            <CostEstimate cost={cost} />
            <Checks issues={issues} />
            <details>
              <summary>Experiment JSON</summary>
              <pre className="mono small json-preview" data-testid="builder-json">
                {JSON.stringify(experiment, null, 2)}
              </pre>
            </details>
          </div>
        </aside>
      </div>
    </section>
  );
}

/** Seconds the experiment should take: each selected model at its own measured speed (loaded result rows first, else its last Playground run). */
function useTimeEstimate(cost: CostEstimateData): { seconds: number; sources: string[]; unknown: string[]; decodeTokensPerCell: number } {
  const form = useLab((s) => s.builder);
  const models = useLab((s) => s.models);
  const rowsByRun = useLab((s) => s.rows);
  const playgroundSpeeds = useLab((s) => s.playgroundSpeeds);
  return useMemo(() => {
    const allRows = Object.values(rowsByRun).flat();
    const decodeTokensPerCell = Number(form.maxNewTokens) > 0 ? Number(form.maxNewTokens) : 32;
    const perModel = { promptTokens: cost.promptTokens / Math.max(1, cost.models), cells: cost.cells / Math.max(1, cost.models) };
    let seconds = 0;
    const sources: string[] = [];
    const unknown: string[] = [];
    for (const id of form.modelIds) {
      const m = models.find((x) => x.id === id);
      const speed = (m ? speedFromRows(allRows, m.path) : null) ?? playgroundSpeeds[id] ?? null;
      if (!speed) unknown.push(m?.name ?? id);
      else {
        seconds += estimateSeconds(perModel, speed, decodeTokensPerCell);
        sources.push(`${m?.name ?? id}: ${speed.source}`);
      }
    }
    return { seconds, sources, unknown, decodeTokensPerCell };
  }, [rowsByRun, playgroundSpeeds, form.modelIds, form.maxNewTokens, models, cost]);
}

function PresetAndName() {
  const preset = useLab((s) => s.builderPreset);
  const name = useLab((s) => s.builder.name);
  const update = useLab((s) => s.updateBuilder);
  const applyPreset = useLab((s) => s.applyBuilderPreset);
  const presetInfo = BUILDER_PRESETS.find((p) => p.id === preset);
  return (
    <div className="card">
      <label htmlFor="builder-preset">Preset</label>
      <select id="builder-preset" value={preset ?? ''} onChange={(e) => applyPreset(e.target.value)} data-testid="builder-preset">
        <option value="" disabled>
          (custom)
        </option>
        {BUILDER_PRESETS.map((p) => (
          <option key={p.id} value={p.id}>
            {p.label}
          </option>
        ))}
      </select>
      {presetInfo ? <p className="muted small">{presetInfo.description}</p> : null}
      <label htmlFor="builder-name">Name</label>
      <input id="builder-name" value={name} onChange={(e) => update({ name: e.target.value })} data-testid="builder-name" />
    </div>
  );
}

function ModelsGroup() {
  const models = useLab((s) => s.models);
  const modelIds = useLab((s) => s.builder.modelIds);
  const toggle = useLab((s) => s.toggleBuilderItem);
  return (
    <Group title="Models">
      {models.map((m) => (
        <Check key={m.id} checked={modelIds.includes(m.id)} onChange={() => toggle('modelIds', m.id)} testId={`builder-model-${m.id}`} title={m.path}>
          {m.name} {m.bundled ? <span className="tag tag-accent">bundled</span> : null}
        </Check>
      ))}
      {models.length === 0 ? <p className="muted">No models yet — open one on the Models screen.</p> : null}
    </Group>
  );
}

function MethodsGroup() {
  const methodInfo = useLab((s) => s.methodInfo);
  const includeFull = useLab((s) => s.builder.includeFull);
  const update = useLab((s) => s.updateBuilder);
  return (
    <Group title="Methods">
      <Check checked={includeFull} onChange={() => update({ includeFull: !includeFull })} testId="builder-full">
        Full KV cache (the baseline)
      </Check>
      <h3>Token scorers</h3>
      <MethodPicks infos={methodInfo.filter((m) => m.kind === 'scorer')} field="scorers" />
      <h3>Layer allocators</h3>
      <MethodPicks infos={methodInfo.filter((m) => m.kind === 'allocator')} field="allocators" />
      <h3>Head-wise split</h3>
      {methodInfo
        .filter((m) => m.kind === 'headwise')
        .map((h) => (
          <HeadwisePick key={h.id} info={h} />
        ))}
      <CustomMethods />
    </Group>
  );
}

function HeadwisePick({ info }: { info: MethodInfo }) {
  const ada = useLab((s) => s.builder.ada);
  const update = useLab((s) => s.updateBuilder);
  return (
    <div className="row gap wrap">
      <label title={info.summary}>
        {info.label}:{' '}
        <select value={ada} onChange={(e) => update({ ada: e.target.value as AdaMode })} data-testid="builder-ada">
          <option value="off">off</option>
          <option value="also">also (each method with and without)</option>
          <option value="only">only (every method with it)</option>
        </select>
      </label>
      <PresetSelect info={info} />
    </div>
  );
}

function CustomMethods() {
  const customMethods = useLab((s) => s.builder.customMethods);
  const removeCustom = useLab((s) => s.removeCustomMethod);
  if (!customMethods.length) return null;
  return (
    <>
      <h3>Custom allocations</h3>
      <p className="muted small">Saved on the Layer profile; each runs as ZigZagKV over the saved per-layer budgets, scaled to every budget above.</p>
      <ul className="custom-methods" data-testid="builder-custom-methods">
        {customMethods.map((m, i) => (
          <li key={m.label} className="row gap" data-testid={`builder-custom-${i}`} data-label={m.label}>
            <span className="mono">{m.label}</span>
            <span className="muted small mono">{describeCustom(m)}</span>
            <button type="button" className="link" onClick={() => removeCustom(i)} data-testid={`builder-custom-${i}-remove`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

function BudgetsGroup() {
  const budgets = useLab((s) => s.builder.budgets);
  const update = useLab((s) => s.updateBuilder);
  return (
    <Group title="Budgets">
      <input
        value={budgets}
        onChange={(e) => update({ budgets: e.target.value })}
        aria-label="Budgets"
        placeholder="10%, 20%, 128, cr:0.8, 64MiB"
        data-testid="builder-budgets"
      />
      <p className="muted small">
        Comma-separated: keep ratio (<code>20%</code>), tokens per layer (<code>128</code>), kvpress compression ratio (<code>cr:0.8</code>), total tokens (
        <code>4096 total</code>) or bytes (<code>64MiB</code>).
      </p>
    </Group>
  );
}

function WorkloadsGroup() {
  const workloads = useLab((s) => s.builder.workloads);
  const addWorkload = useLab((s) => s.addWorkload);
  return (
    <Group title="Workloads">
      {workloads.map((w, i) => (
        <WorkloadEditor key={i} index={i} w={w} />
      ))}
      <div className="row gap wrap">
        {WORKLOAD_KINDS.map((k) => (
          <button key={k} type="button" onClick={() => addWorkload(k)} data-testid={`builder-add-${k}`} title={WORKLOADS[k].summary}>
            + {k}
          </button>
        ))}
      </div>
    </Group>
  );
}

function RunSettingsGroup() {
  const form = useLab((s) => s.builder);
  const update = useLab((s) => s.updateBuilder);
  return (
    <Group title="Run settings">
      <div className="row gap wrap">
        <label>
          Seed <input className="num-input" value={form.seed} onChange={(e) => update({ seed: e.target.value })} data-testid="builder-seed" />
        </label>
        <label>
          Max new tokens{' '}
          <input
            className="num-input"
            value={form.maxNewTokens}
            placeholder="per sample"
            onChange={(e) => update({ maxNewTokens: e.target.value })}
            data-testid="builder-max-tokens"
          />
        </label>
        <Check checked={form.recordKept} onChange={() => update({ recordKept: !form.recordKept })} testId="builder-record-kept">
          Record kept positions (retention overlays; large)
        </Check>
      </div>
    </Group>
  );
}

function CostFact({ label, testId, value, exact }: { label: string; testId: string; value: number; exact: boolean }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId} data-value={value}>
        {exact ? '' : '≈ '}
        {formatInt(value)}
      </dd>
    </div>
  );
}

function CostEstimate({ cost }: { cost: CostEstimateData }) {
  const modelCount = useLab((s) => s.builder.modelIds.length);
  const time = useTimeEstimate(cost);
  return (
    <>
      <h2>Cost estimate</h2>
      <dl className="facts" data-testid="builder-cost">
        <CostFact label="Samples" testId="builder-cost-samples" value={cost.samples} exact={cost.exact} />
        <CostFact label="Cells" testId="builder-cost-cells" value={cost.cells} exact={cost.exact} />
        <CostFact label="Prefills" testId="builder-cost-prefills" value={cost.prefills} exact={cost.exact} />
        <CostFact label="Prompt tokens" testId="builder-cost-tokens" value={cost.promptTokens} exact />
        <div className="fact">
          <dt>Time</dt>
          <dd data-testid="builder-cost-time" data-seconds={time.unknown.length || modelCount === 0 ? '' : Math.round(time.seconds)}>
            {modelCount === 0 ? '—' : time.unknown.length ? 'unknown' : `≈ ${formatDuration(time.seconds)}`}
          </dd>
        </div>
      </dl>
      <p className="muted small" data-testid="builder-cost-time-basis">
        {time.unknown.length
          ? `Time unknown until ${time.unknown.join(', ')} has run once (a Playground run or an experiment) on this engine.`
          : modelCount
            ? `Time from measured speed (${time.sources.join('; ')}), counting up to ${time.decodeTokensPerCell} generated tokens per cell; longer prompts than those measured take longer per token.`
            : ''}
      </p>
      <p className="muted small">
        {cost.models} model{cost.models === 1 ? '' : 's'} × {cost.samples} samples × {cost.cellsPerSample} cells per sample. One prefill per sample is shared by
        every method and budget.
        {cost.exact ? '' : ' LongBench counts assume the limit per dataset (the file decides).'}
      </p>
    </>
  );
}

function Checks({ issues }: { issues: readonly string[] }) {
  const submit = useLab((s) => s.submitBuilder);
  return (
    <>
      <h2>Checks</h2>
      {issues.length === 0 ? (
        <p className="ok" data-testid="builder-valid">
          Ready to run.
        </p>
      ) : (
        <ul className="issues" data-testid="builder-issues">
          {issues.map((m, i) => (
            <li key={i} className="error" data-testid="builder-issue">
              {m}
            </li>
          ))}
        </ul>
      )}
      <button type="button" className="primary wide" disabled={issues.length > 0} onClick={() => void submit()} data-testid="builder-start">
        Start run
      </button>
    </>
  );
}

/** "snapkv/zigzagkv, layer budgets 12 · 30 · 30 …": the saved per-layer budgets of a custom allocation, when it has them. */
function describeCustom(m: CustomMethodEntry): string {
  const lmba: unknown = m.allocator?.['staticLmba'];
  return Array.isArray(lmba) ? `${m.method}, layer budgets ${lmba.join(' · ')}` : m.method;
}

function Group({ title, children }: { title: string; children: ReactNode }) {
  return (
    <fieldset className="card group">
      <legend>{title}</legend>
      {children}
    </fieldset>
  );
}

function Check({
  checked,
  onChange,
  testId,
  title,
  children,
}: {
  checked: boolean;
  onChange: () => void;
  testId: string;
  title?: string;
  children: ReactNode;
}) {
  return (
    <label className="check" title={title}>
      <input type="checkbox" checked={checked} onChange={onChange} data-testid={testId} /> {children}
    </label>
  );
}

function MethodPicks({ infos, field }: { infos: readonly MethodInfo[]; field: 'scorers' | 'allocators' }) {
  const selected = useLab((s) => s.builder[field]);
  const toggle = useLab((s) => s.toggleBuilderItem);
  const testPrefix = field === 'scorers' ? 'builder-scorer' : 'builder-allocator';
  return (
    <div className="method-picks">
      {infos.map((m) => (
        <div key={m.id} className="method-pick">
          <Check checked={selected.includes(m.id)} onChange={() => toggle(field, m.id)} testId={`${testPrefix}-${m.id}`} title={m.summary}>
            <span className="mono">{m.id}</span> <span className="muted small">{m.label}</span>
          </Check>
          {selected.includes(m.id) ? <PresetSelect info={m} /> : null}
        </div>
      ))}
    </div>
  );
}

function PresetSelect({ info }: { info: MethodInfo }) {
  const chosen = useLab((s) => s.builder.paramPresets[info.id]);
  const setPreset = useLab((s) => s.setParamPreset);
  const names = Object.keys(info.presets);
  if (names.length < 2) return null;
  return (
    <select
      className="small"
      aria-label={`${info.id} parameters`}
      value={chosen ?? names[0]}
      onChange={(e) => setPreset(info.id, e.target.value)}
      data-testid={`builder-params-${info.id}`}
    >
      {names.map((n) => (
        <option key={n} value={n}>
          {n}
        </option>
      ))}
    </select>
  );
}

function Field({
  label,
  value,
  onChange,
  testId,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  testId: string;
  placeholder?: string;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <input value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} data-testid={testId} />
    </label>
  );
}

/** One field of a workload, as its registry entry describes it. */
function WorkloadFieldInput({ field, w, testId, set }: { field: WorkloadField; w: WorkloadForm; testId: string; set: (patch: WorkloadFormValues) => void }) {
  const value = w[field.key] ?? field.initial;
  if (field.control === 'check')
    return (
      <Check checked={value === true} onChange={() => set({ [field.key]: value !== true })} testId={testId} {...(field.title ? { title: field.title } : {})}>
        {field.label}
      </Check>
    );
  const text = typeof value === 'string' ? value : '';
  if (field.control === 'select')
    return (
      <label className="field">
        <span>{field.label}</span>
        <select value={text} onChange={(e) => set({ [field.key]: e.target.value })} data-testid={testId}>
          {(field.options ?? []).map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
      </label>
    );
  const placeholder = typeof field.placeholder === 'function' ? field.placeholder(w) : field.placeholder;
  return <Field label={field.label} value={text} onChange={(v) => set({ [field.key]: v })} testId={testId} {...(placeholder ? { placeholder } : {})} />;
}

/** A workload's fields, from the workload registry: the same editor for every kind. */
function WorkloadEditor({ w, index }: { w: WorkloadForm; index: number }) {
  const updateW = useLab((s) => s.updateWorkload);
  const remove = useLab((s) => s.removeWorkload);
  const t = (name: string) => `builder-w${index}-${name}`;
  const set = (patch: WorkloadFormValues) => updateW(index, patch);
  return (
    <div className="workload" data-testid={`builder-workload-${index}`} data-kind={w.kind}>
      <div className="row spread">
        <strong>
          {index + 1}. {w.kind}
        </strong>
        <button type="button" className="link" onClick={() => remove(index)} data-testid={t('remove')}>
          Remove
        </button>
      </div>
      <div className="fields">
        {workloadFields(w.kind).map((f) => (
          <WorkloadFieldInput key={f.key} field={f} w={w} testId={t(f.testId)} set={set} />
        ))}
      </div>
    </div>
  );
}
