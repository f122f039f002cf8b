/**
 * Experiment builder: models × scorers × allocators (+ Ada-KV) × budgets ×
 * workloads, from the method registry (describeMethods) with its parameter
 * presets, plus whole-experiment presets. Validation runs on every change with
 * core's parseExperiment (the CLI's messages), and the cost estimate — cells
 * and prefills, counted the way the runner expands the grid — is shown before
 * anything starts. Start queues the run and opens the Runs screen.
 */
import { useEffect, useMemo, type ReactNode } from 'react';
import type { MethodInfo } from '@kvlab/core';
import { formatDuration, formatInt, niahNaming } from '@kvlab/core';
import { useLab } from '../store/index.ts';
import {
  BUILDER_PRESETS,
  builderExperiment,
  contextIssues,
  validateExperiment,
  type AdaMode,
  type CustomMethodEntry,
  type WorkloadForm,
  type WorkloadKind,
} from '../store/builder.ts';
import { estimateCost, estimateSeconds, speedFromRows } from '../util/cost.ts';

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
export function BuilderScreen() {
  const form = useLab((s) => s.builder);
  const models = useLab((s) => s.models);
  const methodInfo = useLab((s) => s.methodInfo);
  const preset = useLab((s) => s.builderPreset);
  const update = useLab((s) => s.updateBuilder);
  const toggle = useLab((s) => s.toggleBuilderItem);
  const applyPreset = useLab((s) => s.applyBuilderPreset);
  const addWorkload = useLab((s) => s.addWorkload);
  const submit = useLab((s) => s.submitBuilder);
  const removeCustom = useLab((s) => s.removeCustomMethod);

  const experiment = useMemo(() => builderExperiment(form, models, methodInfo), [form, models, methodInfo]);
  const cards = useLab((s) => s.cards);
  const loadCard = useLab((s) => s.loadCard);
  // The checks compare workload lengths with each selected model's context, from its card.
  useEffect(() => {
    for (const id of form.modelIds) void loadCard(id);
  }, [form.modelIds, loadCard]);
  const issues = useMemo(() => [...validateExperiment(experiment), ...contextIssues(experiment, Object.values(cards))], [experiment, cards]);
  const cost = useMemo(() => estimateCost(experiment), [experiment]);
  const rowsByRun = useLab((s) => s.rows);
  const playgroundSpeeds = useLab((s) => s.playgroundSpeeds);
  const time = useMemo(() => {
    // Each selected model at its own measured speed: result rows the app has loaded first, else its last Playground run.
    const allRows = Object.values(rowsByRun).flat();
    const decodeTokensPerCell = Number(form.maxNewTokens) > 0 ? Number(form.maxNewTokens) : 32;
    let seconds = 0;
    const sources: string[] = [];
    const unknown: string[] = [];
    for (const id of form.modelIds) {
      const m = models.find((x) => x.id === id);
      const speed = (m ? speedFromRows(allRows, m.path) : null) ?? playgroundSpeeds[id] ?? null;
      if (!speed) unknown.push(m?.name ?? id);
      else {
        seconds += estimateSeconds(
          { promptTokens: cost.promptTokens / Math.max(1, cost.models), cells: cost.cells / Math.max(1, cost.models) },
          speed,
          decodeTokensPerCell,
        );
        sources.push(`${m?.name ?? id}: ${speed.source}`);
      }
    }
    return { seconds, sources, unknown, decodeTokensPerCell };
  }, [rowsByRun, playgroundSpeeds, form.modelIds, form.maxNewTokens, models, cost]);
  const scorers = methodInfo.filter((m) => m.kind === 'scorer');
  const allocators = methodInfo.filter((m) => m.kind === 'allocator');
  const headwise = methodInfo.filter((m) => m.kind === 'headwise');
  const presetInfo = BUILDER_PRESETS.find((p) => p.id === preset);

  return (
    <section className="screen screen-builder" data-testid="screen-builder">
      <header className="screen-header">
        <h1>Experiment builder</h1>
        <p className="muted">Every selected scorer is paired with every selected allocator; each pair runs at every budget on every sample.</p>
      </header>
      <div className="cols">
        <div className="col builder-form">
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
            <input id="builder-name" value={form.name} onChange={(e) => update({ name: e.target.value })} data-testid="builder-name" />
          </div>

          <Group title="Models">
            {models.map((m) => (
              <Check
                key={m.id}
                checked={form.modelIds.includes(m.id)}
                onChange={() => toggle('modelIds', m.id)}
                testId={`builder-model-${m.id}`}
                title={m.path}
              >
                {m.name} {m.bundled ? <span className="tag tag-accent">bundled</span> : null}
              </Check>
            ))}
            {models.length === 0 ? <p className="muted">No models yet — open one on the Models screen.</p> : null}
          </Group>

          <Group title="Methods">
            <Check checked={form.includeFull} onChange={() => update({ includeFull: !form.includeFull })} testId="builder-full">
              Full KV cache (the baseline)
            </Check>
            <h3>Token scorers</h3>
            <MethodPicks infos={scorers} field="scorers" />
            <h3>Layer allocators</h3>
            <MethodPicks infos={allocators} field="allocators" />
            <h3>Head-wise split</h3>
            {headwise.map((h) => (
              <div key={h.id} className="row gap wrap">
                <label title={h.summary}>
                  {h.label}:{' '}
                  <select value={form.ada} onChange={(e) => update({ ada: e.target.value as AdaMode })} data-testid="builder-ada">
                    <option value="off">off</option>
                    <option value="also">also (each method with and without)</option>
                    <option value="only">only (every method with it)</option>
                  </select>
                </label>
                <PresetSelect info={h} />
              </div>
            ))}
            {form.customMethods.length ? (
              <>
                <h3>Custom allocations</h3>
                <p className="muted small">Saved on the Layer profile; each runs as ZigZagKV over the saved per-layer budgets, scaled to every budget above.</p>
                <ul className="custom-methods" data-testid="builder-custom-methods">
                  {form.customMethods.map((m, i) => (
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
            ) : null}
          </Group>

          <Group title="Budgets">
            <input
              value={form.budgets}
              onChange={(e) => update({ budgets: e.target.value })}
              aria-label="Budgets"
              placeholder="10%, 20%, 128, cr:0.8, 64MiB"
              data-testid="builder-budgets"
            />
            <p className="muted small">
              Comma-separated: keep ratio (<code>20%</code>), tokens per layer (<code>128</code>), kvpress compression ratio (<code>cr:0.8</code>), total tokens
              (<code>4096 total</code>) or bytes (<code>64MiB</code>).
            </p>
          </Group>

          <Group title="Workloads">
            {form.workloads.map((w, i) => (
              <WorkloadEditor key={i} index={i} w={w} />
            ))}
            <div className="row gap wrap">
              {(['niah', 'ruler', 'fidelity', 'longbench'] as WorkloadKind[]).map((k) => (
                <button key={k} type="button" onClick={() => addWorkload(k)} data-testid={`builder-add-${k}`}>
                  + {k}
                </button>
              ))}
            </div>
          </Group>

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
        </div>

        <aside className="col col-narrow builder-side">
          <div className="card sticky">
            <h2>Cost estimate</h2>
            <dl className="facts" data-testid="builder-cost">
              <div className="fact">
                <dt>Samples</dt>
                <dd data-testid="builder-cost-samples">
                  {cost.exact ? '' : '≈ '}
                  {formatInt(cost.samples)}
                </dd>
              </div>
              <div className="fact">
                <dt>Cells</dt>
                <dd data-testid="builder-cost-cells" data-value={cost.cells}>
                  {cost.exact ? '' : '≈ '}
                  {formatInt(cost.cells)}
                </dd>
              </div>
              <div className="fact">
                <dt>Prefills</dt>
                <dd data-testid="builder-cost-prefills" data-value={cost.prefills}>
                  {cost.exact ? '' : '≈ '}
                  {formatInt(cost.prefills)}
                </dd>
              </div>
              <div className="fact">
                <dt>Prompt tokens</dt>
                <dd data-testid="builder-cost-tokens">{formatInt(cost.promptTokens)}</dd>
              </div>
              <div className="fact">
                <dt>Time</dt>
                <dd data-testid="builder-cost-time" data-seconds={time.unknown.length || form.modelIds.length === 0 ? '' : Math.round(time.seconds)}>
                  {form.modelIds.length === 0 ? '—' : time.unknown.length ? 'unknown' : `≈ ${formatDuration(time.seconds)}`}
                </dd>
              </div>
            </dl>
            <p className="muted small" data-testid="builder-cost-time-basis">
              {time.unknown.length
                ? `Time unknown until ${time.unknown.join(', ')} has run once (a Playground run or an experiment) on this engine.`
                : form.modelIds.length
                  ? `Time from measured speed (${time.sources.join('; ')}), counting up to ${time.decodeTokensPerCell} generated tokens per cell; longer prompts than those measured take longer per token.`
                  : ''}
            </p>
            <p className="muted small">
              {cost.models} model{cost.models === 1 ? '' : 's'} × {cost.samples} samples × {cost.cellsPerSample} cells per sample. One prefill per sample is
              shared by every method and budget.
              {cost.exact ? '' : ' LongBench counts assume the limit per dataset (the file decides).'}
            </p>
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

// eslint-disable-next-line max-lines-per-function -- SHAPE-TODO: split (or give the reason here)
function WorkloadEditor({ w, index }: { w: WorkloadForm; index: number }) {
  const updateW = useLab((s) => s.updateWorkload);
  const remove = useLab((s) => s.removeWorkload);
  const t = (name: string) => `builder-w${index}-${name}`;
  const set = (patch: Partial<WorkloadForm>) => updateW(index, patch);
  let body: ReactNode;
  switch (w.kind) {
    case 'niah':
      body = (
        <>
          <label className="field">
            <span>Variant</span>
            <select value={w.variant} onChange={(e) => set({ variant: e.target.value as typeof w.variant })} data-testid={t('variant')}>
              {(['single', 'multikey', 'multivalue', 'passkey'] as const).map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </label>
          <Field label="Context lengths (tokens)" value={w.contextLengths} onChange={(v) => set({ contextLengths: v })} testId={t('contexts')} />
          <Field label="Depths (%)" value={w.depths} onChange={(v) => set({ depths: v })} testId={t('depths')} />
          <Field label="Samples per cell" value={w.samplesPerCell} onChange={(v) => set({ samplesPerCell: v })} testId={t('samples')} />
          <Field
            label="Haystack texts"
            value={w.haystack}
            placeholder="filler (or e.g. austen-emma.txt)"
            onChange={(v) => set({ haystack: v })}
            testId={t('haystack')}
          />
          <label className="field">
            <span>Answer match</span>
            <select value={w.match} onChange={(e) => set({ match: e.target.value as typeof w.match })} data-testid={t('match')}>
              <option value="substring">substring (RULER)</option>
              <option value="whole">whole word only</option>
            </select>
          </label>
          <Check
            checked={w.heldOutTemplates}
            onChange={() => set({ heldOutTemplates: !w.heldOutTemplates })}
            testId={t('held-out')}
            title="Needle phrasings kept out of the demo model's training: judges retrieval, not memorised wording"
          >
            Held-out needle templates
          </Check>
          <Field
            label="Name in results"
            value={w.name}
            placeholder={niahNaming({ variant: w.variant, match: w.match }).workload}
            onChange={(v) => set({ name: v })}
            testId={t('name')}
          />
        </>
      );
      break;
    case 'ruler':
      body = (
        <>
          <label className="field">
            <span>Task</span>
            <select value={w.task} onChange={(e) => set({ task: e.target.value as typeof w.task })} data-testid={t('task')}>
              {(['vt', 'cwe', 'fwe', 'kv'] as const).map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </label>
          <Field label="Context lengths (tokens)" value={w.contextLengths} onChange={(v) => set({ contextLengths: v })} testId={t('contexts')} />
          <Field label="Samples per length" value={w.samples} onChange={(v) => set({ samples: v })} testId={t('samples')} />
        </>
      );
      break;
    case 'fidelity':
      body = (
        <>
          <Field label="Texts" value={w.texts} placeholder="sampled, or text names" onChange={(v) => set({ texts: v })} testId={t('texts')} />
          <Field label="Prompt tokens" value={w.promptTokens} onChange={(v) => set({ promptTokens: v })} testId={t('prompts')} />
          <Field label="Continuation tokens" value={w.continuationTokens} onChange={(v) => set({ continuationTokens: v })} testId={t('continuation')} />
          <Field label="Samples per length" value={w.samples} onChange={(v) => set({ samples: v })} testId={t('samples')} />
        </>
      );
      break;
    case 'longbench':
      body = (
        <>
          <Field label="JSONL file or folder" value={w.path} placeholder="/data/longbench" onChange={(v) => set({ path: v })} testId={t('path')} />
          <Field
            label="Datasets"
            value={w.datasets}
            placeholder="all (or e.g. qasper, hotpotqa)"
            onChange={(v) => set({ datasets: v })}
            testId={t('datasets')}
          />
          <Field label="Limit per dataset" value={w.limit} onChange={(v) => set({ limit: v })} testId={t('limit')} />
        </>
      );
      break;
  }
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
      <div className="fields">{body}</div>
    </div>
  );
}
