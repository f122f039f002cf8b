/**
 * Models: the bundled default ready to use, any GGUF file / Hugging Face
 * folder / llama2.c .bin opened by path, dialog (desktop) or drag-and-drop,
 * and the selected model's card — shape, GQA, KV bytes per token and what
 * loading it and filling its context would take.
 *
 * Drag-and-drop: in Electron the preload's labShell.getPathForFile turns the
 * dropped File into a path; a browser only reveals the file's name, so the
 * name goes into the path field and the user completes the path.
 *
 * Download from Hugging Face: a repo id and, for a GGUF repo, one .gguf file
 * (empty: the safetensors folder). The engine downloads it into its models
 * folder — on the engine's machine in serve mode — with a progress bar fed by
 * model.download events, then opens it like a path.
 */
import { useState, type DragEvent } from 'react';
import type { ModelCard, Settings } from '@kvlab/core';
import { formatBytes, formatCount, formatInt, formatPercent, modelFormat } from '@kvlab/core';
import { shellExtras } from '../api/index.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { useLab, useLabApi } from '../store/index.ts';
import { tensorTypeRows } from '../util/tensor-types.ts';
import { GpuSetupPanel } from './GpuSetup.tsx';

export function ModelsScreen() {
  return (
    <section className="screen screen-models" data-testid="screen-models">
      <header className="screen-header">
        <h1>Models</h1>
        <p className="muted">The bundled demo model is ready to use. Open a GGUF file, a Hugging Face folder or a llama2.c .bin to compare methods on it.</p>
      </header>
      <div className="cols">
        <div className="col col-narrow">
          <OpenModel />
          <DownloadModel />
          <h2>Known models</h2>
          <ModelList />
        </div>
        <div className="col">
          <SelectedModel />
          <GpuSetupPanel />
        </div>
      </div>
    </section>
  );
}

/** Every model the engine knows; pressing one selects it. */
function ModelList() {
  const models = useLab((s) => s.models);
  const modelsLoaded = useLab((s) => s.modelsLoaded);
  const selectedModelId = useLab((s) => s.selectedModelId);
  const selectModel = useLab((s) => s.selectModel);
  return (
    <>
      {!modelsLoaded ? <p className="muted">Loading…</p> : null}
      <ul className="model-list" data-testid="model-list">
        {models.map((m) => (
          <li key={m.id}>
            <button
              type="button"
              className={`model-item ${m.id === selectedModelId ? 'selected' : ''}`}
              aria-pressed={m.id === selectedModelId}
              data-testid={`model-item-${m.id}`}
              data-model-name={m.name}
              onClick={() => void selectModel(m.id)}
            >
              <span className="model-name">{m.name}</span>
              <span className="model-tags">
                {m.bundled ? <span className="tag tag-accent">bundled</span> : null}
                <span className="tag">{modelFormat(m.format).label}</span>
                {m.loaded ? <span className="tag tag-ok">loaded</span> : null}
              </span>
              <span className="model-path muted" title={m.path}>
                {m.path}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

/** The selected model's card, its load settings and where to go with it. */
function SelectedModel() {
  const selectedModelId = useLab((s) => s.selectedModelId);
  const card = useLab((s) => (s.selectedModelId ? s.cards[s.selectedModelId] : undefined));
  if (!card) return <p className="muted">{selectedModelId ? 'Reading the model card…' : 'No model selected.'}</p>;
  return (
    <>
      <ModelCardView card={card} />
      {card.floatWeightEstimates ? <FloatWeightsPicker card={card} /> : null}
      <KvTypePicker card={card} />
      <ModelActions />
    </>
  );
}

function ModelActions() {
  const navigate = useLab((s) => s.navigate);
  return (
    <div className="row gap">
      <button type="button" className="primary" data-testid="model-to-playground" onClick={() => navigate('playground')}>
        Try it in the Playground
      </button>
      <button type="button" data-testid="model-to-profile" onClick={() => navigate('profile')}>
        Layer profile
      </button>
      <button type="button" data-testid="model-to-builder" onClick={() => navigate('builder')}>
        Build an experiment
      </button>
    </div>
  );
}

/** A model opened by path, by the desktop's file dialogs, or dropped on the zone. */
function OpenModel() {
  const opening = useLab((s) => s.opening);
  const openError = useLab((s) => s.openError);
  const { path, setPath, hint, open, onDrop, pick, shell } = useModelOpener();
  const [over, setOver] = useState(false);
  return (
    <div
      className={`dropzone ${over ? 'over' : ''}`}
      data-testid="model-dropzone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false);
        onDrop(e);
      }}
    >
      <form
        className="open-model"
        onSubmit={(e) => {
          e.preventDefault();
          void open(path);
        }}
      >
        <label htmlFor="model-path">Open a model</label>
        <div className="row gap">
          <input
            id="model-path"
            type="text"
            value={path}
            placeholder="model.gguf, .bin or a folder"
            title="A GGUF file, a llama2.c .bin, or a Hugging Face model folder (config.json + safetensors)"
            spellCheck={false}
            data-testid="model-path-input"
            onChange={(e) => setPath(e.target.value)}
          />
          <button type="submit" className="primary" disabled={opening !== null} data-testid="model-open">
            {opening !== null ? 'Opening…' : 'Open'}
          </button>
        </div>
        {shell ? <PickButtons pick={pick} /> : null}
        <p className="muted small">…or drop a model file here.</p>
        <Message className="hint" testId="model-drop-hint" text={hint} />
        <Message className="error" role="alert" testId="model-open-error" text={openError} />
      </form>
    </div>
  );
}

/**
 * The path field's state and the ways to fill it: typing, a dropped file, a dialog.
 * Opening clears the field once the model opened.
 */
function useModelOpener() {
  const openModel = useLab((s) => s.openModel);
  const [path, setPath] = useState('');
  const [hint, setHint] = useState<string | null>(null);
  const shell = shellExtras();
  const open = async (p: string) => {
    setHint(null);
    if (await openModel(p)) setPath('');
  };
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (!file) return;
    const full = shell?.getPathForFile(file) ?? '';
    if (full) {
      setPath(full);
      void open(full);
    } else {
      // A browser never reveals where a dropped file lives: offer its name and ask for the rest.
      setPath(file.name);
      setHint(`The browser only tells the file's name (${file.name}). Complete its full path on the engine's machine, then Open.`);
    }
  };
  const pick = async (kind: 'file' | 'folder') => {
    if (!shell) return;
    const p = kind === 'file' ? await shell.pickModelFile() : await shell.pickModelFolder();
    if (p) {
      setPath(p);
      void open(p);
    }
  };
  return { path, setPath, hint, open, onDrop, pick, shell };
}

/** The desktop's file and folder dialogs. */
function PickButtons({ pick }: { pick: (kind: 'file' | 'folder') => Promise<void> }) {
  return (
    <div className="row gap">
      <button type="button" onClick={() => void pick('file')} data-testid="model-pick-file">
        Choose file…
      </button>
      <button type="button" onClick={() => void pick('folder')} data-testid="model-pick-folder">
        Choose folder…
      </button>
    </div>
  );
}

/** A paragraph for a message, or nothing while there is none. */
function Message({ className, role, testId, text }: { className: string; role?: 'alert'; testId: string; text: string | null | undefined }) {
  return text ? (
    <p className={className} role={role} data-testid={testId}>
      {text}
    </p>
  ) : null;
}

/** A Hugging Face repo (and optionally one of its GGUF files) downloaded into the engine's models folder, then opened. */
function DownloadModel() {
  const downloadModel = useLab((s) => s.downloadModel);
  const download = useLab((s) => s.download);
  const [repo, setRepo] = useState('');
  const [file, setFile] = useState('');
  const busy = download !== null && !download.done;
  return (
    <form
      className="open-model hf-download"
      data-testid="hf-form"
      onSubmit={(e) => {
        e.preventDefault();
        void downloadModel(repo, file).then((card) => {
          if (card) {
            setRepo('');
            setFile('');
          }
        });
      }}
    >
      <label htmlFor="hf-repo">Download from Hugging Face</label>
      <input
        id="hf-repo"
        type="text"
        value={repo}
        placeholder="owner/name, e.g. Qwen/Qwen2.5-0.5B"
        title="The Hugging Face repository, as owner/name"
        spellCheck={false}
        data-testid="hf-repo"
        onChange={(e) => setRepo(e.target.value)}
      />
      <div className="row gap">
        <input
          type="text"
          value={file}
          aria-label="GGUF file in the repo (optional)"
          placeholder="file.gguf (optional)"
          title="A GGUF file in the repository; leave empty to download its safetensors folder"
          spellCheck={false}
          data-testid="hf-file"
          onChange={(e) => setFile(e.target.value)}
        />
        <button type="submit" className="primary" disabled={busy} data-testid="hf-download">
          {busy ? 'Downloading…' : 'Download'}
        </button>
      </div>
      <p className="muted small">No file: the repository's safetensors folder is downloaded.</p>
      <DownloadStatus />
    </form>
  );
}

/** The download's progress (fed by model.download events) with Cancel while ours runs, or why it failed, or that it was cancelled. */
function DownloadStatus() {
  const download = useLab((s) => s.download);
  const cancel = useLab((s) => s.cancelDownload);
  if (!download) return null;
  if (download.error)
    return (
      <p className="error" role="alert" data-testid="hf-error">
        {download.error}
      </p>
    );
  if (download.cancelled)
    return (
      <p className="muted" data-testid="hf-cancelled">
        The download of {download.repo}
        {download.file ? ` · ${download.file}` : ''} was cancelled after {formatBytes(download.bytesDone)}; files it had finished are kept and not fetched
        again.
      </p>
    );
  return (
    <div data-testid="hf-status" data-done={download.done}>
      <ProgressBar
        value={download.bytesDone}
        max={download.bytesTotal}
        label={`downloading ${download.repo}${download.file ? `/${download.file}` : ''}`}
        testId="hf-progress"
      />
      <p className="muted small">
        {download.done ? 'Downloaded' : 'Downloading'} {download.repo}
        {download.file ? ` · ${download.file}` : ''}: {formatBytes(download.bytesDone)}
        {download.bytesTotal > 0 ? ` of ${formatBytes(download.bytesTotal)}` : ''}{' '}
        {!download.done && download.requestId ? (
          <button type="button" className="link" onClick={() => void cancel()} data-testid="hf-cancel">
            Cancel
          </button>
        ) : null}
      </p>
    </div>
  );
}

const FORM_LABELS: Readonly<Record<FloatWeights, string>> = {
  auto: 'Automatic (float32 if it fits, else 8-bit, else 4-bit)',
  f32: 'float32 (exact)',
  q8: '8-bit blocks (requantised at load)',
  q4: '4-bit blocks (requantised at load)',
};
type FloatWeights = NonNullable<Settings['floatWeights']>;
const isFloatWeights = (v: string): v is FloatWeights => v in FORM_LABELS;

/**
 * How matrices stored as floats (F16/BF16/F32) are held when a model loads:
 * the saved setting, with this model's RAM estimate for each choice. Quantised
 * GGUF weights always stay as stored, so the picker shows only for models with float matrices.
 */
export function FloatWeightsPicker({ card }: { card: ModelCard }) {
  const api = useLabApi();
  const settings = useLab((s) => s.settings);
  const loadSettings = useLab((s) => s.loadSettings);
  const reportError = useLab((s) => s.reportError);
  const est = card.floatWeightEstimates;
  if (!settings || !est) return null;
  const value = settings.floatWeights ?? 'auto';
  const change = async (floatWeights: FloatWeights) => {
    try {
      await api.updateSettings({ floatWeights });
      await loadSettings();
    } catch (e) {
      reportError(e, 'changing how float weights are held');
    }
  };
  const need = (f: FloatWeights): string => (f === 'auto' ? '' : ` — ${formatBytes(est[f])}`);
  return (
    <label className="row gap small" data-testid="float-weights">
      Hold float weights as{' '}
      <select value={value} data-testid="float-weights-select" onChange={(e) => isFloatWeights(e.target.value) && void change(e.target.value)}>
        {(Object.keys(FORM_LABELS) as FloatWeights[]).map((f) => (
          <option key={f} value={f}>
            {FORM_LABELS[f]}
            {need(f)}
          </option>
        ))}
      </select>
      <span className="muted">applies when the model is next loaded; every result row records the form used</span>
    </label>
  );
}

/**
 * The KV cache's element type for the Playground and layer profiles (the saved
 * setting), with this model's bytes per token for each. Experiments choose
 * theirs in their file (engine.kvType).
 */
export function KvTypePicker({ card }: { card: ModelCard }) {
  const api = useLabApi();
  const settings = useLab((s) => s.settings);
  const loadSettings = useLab((s) => s.loadSettings);
  const reportError = useLab((s) => s.reportError);
  if (!settings) return null;
  const change = async (kvType: 'f32' | 'f16') => {
    try {
      await api.updateSettings({ kvType });
      await loadSettings();
    } catch (e) {
      reportError(e, 'changing the KV cache type');
    }
  };
  return (
    <label className="row gap small" data-testid="kv-type">
      KV cache{' '}
      <select value={settings.kvType ?? 'f32'} data-testid="kv-type-select" onChange={(e) => void change(e.target.value === 'f16' ? 'f16' : 'f32')}>
        <option value="f32">float32 — {formatBytes(card.kvBytesPerToken.f32)} per token</option>
        <option value="f16">float16 — {formatBytes(card.kvBytesPerToken.f16)} per token (half; needs shader-f16 on a GPU)</option>
      </select>
      <span className="muted">Playground and profiles; applies when the model is next loaded</span>
    </label>
  );
}

/** What loading the model and filling its whole context with an uncompressed f32 cache takes. */
export function ramEstimate(card: ModelCard): { kvAtContext: number; total: number } {
  const kvAtContext = card.kvBytesPerToken.f32 * card.contextLength;
  return { kvAtContext, total: card.estimatedLoadBytes + kvAtContext };
}

/** The card's facts, in the order they show: [label, value, test id]. */
function modelFacts(card: ModelCard): [string, string, string][] {
  const gqa = card.kvHeads > 0 ? card.heads / card.kvHeads : 0;
  const ram = ramEstimate(card);
  const forms = card.floatWeightEstimates;
  return [
    ['Architecture', card.architecture, 'card-arch'],
    ['Parameters', formatCount(card.parameters), 'card-params'],
    ['Layers', String(card.layers), 'card-layers'],
    ['Attention heads', String(card.heads), 'card-heads'],
    ['KV heads', String(card.kvHeads), 'card-kv-heads'],
    ['GQA ratio', gqa ? `${Number.isInteger(gqa) ? gqa : gqa.toFixed(2)} : 1` : '—', 'card-gqa'],
    ['Head dim', String(card.headDim), 'card-head-dim'],
    ['Context length', formatInt(card.contextLength), 'card-context'],
    ['Vocabulary', formatInt(card.vocabSize), 'card-vocab'],
    ['KV bytes / token', `${formatBytes(card.kvBytesPerToken.f32)} (f32) · ${formatBytes(card.kvBytesPerToken.f16)} (f16)`, 'card-kv-bytes'],
    ['File size', formatBytes(card.fileBytes), 'card-file'],
    ['RAM to load', formatBytes(card.estimatedLoadBytes), 'card-ram-load'],
    ...(forms
      ? ([['RAM by weight form', `float32 ${formatBytes(forms.f32)} · 8-bit ${formatBytes(forms.q8)} · 4-bit ${formatBytes(forms.q4)}`, 'card-ram-forms']] as [
          string,
          string,
          string,
        ][])
      : []),
    ['RAM at full context', `${formatBytes(ram.total)} (KV ${formatBytes(ram.kvAtContext)} for ${formatInt(card.contextLength)} tokens)`, 'card-ram'],
  ];
}

export function ModelCardView({ card }: { card: ModelCard }) {
  return (
    <article className="card model-card" data-testid="model-card" data-model-id={card.id}>
      <header>
        <h2 data-testid="card-name">{card.name}</h2>
        <p className="muted">{card.description}</p>
        <p className="muted small mono" title={card.path}>
          {card.path}
        </p>
      </header>
      <dl className="facts">
        {modelFacts(card).map(([k, v, id]) => (
          <div key={k} className="fact">
            <dt>{k}</dt>
            <dd data-testid={id}>{v}</dd>
          </div>
        ))}
      </dl>
      <TensorTypes card={card} />
      <Metadata card={card} />
    </article>
  );
}

/** How the file stores its weights, per element type; nothing when the card does not say. */
function TensorTypes({ card }: { card: ModelCard }) {
  const types = tensorTypeRows(card.storedTypes);
  if (!types.length) return null;
  return (
    <>
      <h3>Stored tensor types</h3>
      <p className="muted small">How the file stores its weights: the element type of its tensors and how many weight values each holds.</p>
      <table className="table small" data-testid="card-tensor-types">
        <thead>
          <tr>
            <th>Type</th>
            <th>Meaning</th>
            <th>Weight values</th>
            <th>Share</th>
          </tr>
        </thead>
        <tbody>
          {types.map((t) => (
            <tr key={t.type} data-type={t.type}>
              <td className="mono">{t.type}</td>
              <td>{t.words}</td>
              <td>{formatInt(t.elements)}</td>
              <td>{formatPercent(t.share)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The file's own metadata, key by key; nothing when it has none. */
function Metadata({ card }: { card: ModelCard }) {
  const meta = Object.entries(card.metadata);
  if (!meta.length) return null;
  return (
    <>
      <h3>Metadata</h3>
      <table className="table small" data-testid="card-metadata">
        <tbody>
          {meta.map(([k, v]) => (
            <tr key={k}>
              <th className="mono">{k}</th>
              <td>{String(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
