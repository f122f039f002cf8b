/**
 * Models: the list the engine knows (the bundled default first), model cards
 * fetched on demand, the selected model every model-bound screen uses
 * (Playground, Layer profile, the builder's default), and opening a model by
 * path or downloading it from the Hugging Face Hub. A `models.changed` event
 * reloads the list; `model.download` events move the download's progress.
 */
import type { LabEvent, ModelCard, ModelSummary } from '@kvlab/core';
import { errorMessage, HF_REPO_ID } from '@kvlab/core';
import type { SliceCreator } from './types.ts';
import { cancelRequest, isCancelled, newRequestId } from './calls.ts';

export interface ModelsSlice {
  readonly models: readonly ModelSummary[];
  readonly modelsLoaded: boolean;
  readonly cards: Readonly<Record<string, ModelCard>>;
  readonly selectedModelId: string | null;
  /** An open in progress (path), and the last open's error. */
  readonly opening: string | null;
  readonly openError: string | null;
  /** The last Hugging Face download (in progress while !done); error set when it failed. */
  readonly download: DownloadState | null;
  loadModels(): Promise<void>;
  selectModel(modelId: string): Promise<void>;
  /** Fetches a model's card into `cards` without selecting it (the builder's checks read contexts from it). */
  loadCard(modelId: string): Promise<void>;
  openModel(path: string): Promise<ModelCard | null>;
  /** Downloads `repo` ("owner/name") — one .gguf `file`, or the safetensors folder — then adds and selects it. */
  downloadModel(repo: string, file?: string): Promise<ModelCard | null>;
  /** Asks the engine to stop the download in flight (cancelCall); it then ends as cancelled, not failed. */
  cancelDownload(): Promise<void>;
  handleDownloadEvent(e: Extract<LabEvent, { type: 'model.download' }>): void;
}

/**
 * The latest progress of a Hugging Face download: its model.download event without the tag; `requestId` names
 * ours while it runs (cancelDownload), `cancelled` says the user stopped it.
 */
export type DownloadState = Omit<Extract<LabEvent, { type: 'model.download' }>, 'type'> & {
  readonly requestId?: string;
  readonly cancelled?: boolean;
};

/** Bundled first, then by name: the default model is always at the top. */
const order = (ms: readonly ModelSummary[]): ModelSummary[] => [...ms].sort((a, b) => Number(b.bundled) - Number(a.bundled) || a.name.localeCompare(b.name));

export const createModelsSlice: SliceCreator<ModelsSlice> = (set, get, api) => ({
  models: [],
  modelsLoaded: false,
  cards: {},
  selectedModelId: null,
  opening: null,
  openError: null,
  download: null,
  ...modelListActions(set, get, api),
  ...openModelAction(set, get, api),
  ...downloadActions(set, get, api),
});

/** The list (the selection falls back to the default model when the selected one is gone), the cards and the selection. */
const modelListActions: SliceCreator<Pick<ModelsSlice, 'loadModels' | 'loadCard' | 'selectModel'>> = (set, get, api) => ({
  loadModels: async () => {
    try {
      const models = order(await api.listModels({}));
      set({ models, modelsLoaded: true });
      const sel = get().selectedModelId;
      if (!sel || !models.some((m) => m.id === sel)) {
        const fallback = get().appInfo?.defaultModelId ?? models[0]?.id ?? null;
        const pick = models.find((m) => m.id === fallback) ?? models[0];
        if (pick) await get().selectModel(pick.id);
      }
    } catch (e) {
      set({ modelsLoaded: true });
      get().reportError(e, 'listing models');
    }
  },
  loadCard: async (modelId) => {
    if (get().cards[modelId]) return;
    try {
      const card = await api.getModelCard({ modelId });
      set((s) => ({ cards: { ...s.cards, [modelId]: card } }));
    } catch (e) {
      get().reportError(e, 'reading the model card');
    }
  },
  selectModel: async (modelId) => {
    set({ selectedModelId: modelId });
    await get().loadCard(modelId);
  },
});

/** Opening a model by path: its card joins the cards and the list, and it becomes the selection. */
const openModelAction: SliceCreator<Pick<ModelsSlice, 'openModel'>> = (set, get, api) => ({
  openModel: async (path) => {
    const p = path.trim();
    if (!p) {
      set({ openError: 'Enter the path of a GGUF file, a Hugging Face folder or a llama2.c .bin.' });
      return null;
    }
    set({ opening: p, openError: null });
    try {
      const card = await api.openModel({ path: p });
      set((s) => ({ cards: { ...s.cards, [card.id]: card }, opening: null, selectedModelId: card.id }));
      const rest = get().models.filter((m) => m.id !== card.id);
      set({ models: order([...rest, card]) });
      return card;
    } catch (e) {
      set({ opening: null, openError: errorMessage(e) });
      return null;
    }
  },
});

/** Why a download request cannot start, or null: a repo id must be "owner/name", a file a .gguf. */
function downloadInputError(repo: string, file: string): string | null {
  if (!HF_REPO_ID.test(repo)) return 'Enter a Hugging Face repo id, "owner/name".';
  if (file && !/\.gguf$/i.test(file)) return 'The file must be a .gguf file in the repo (leave it empty for a safetensors folder).';
  return null;
}

/** A download's final state: the bytes its events reported, done, without the request id; failed or cancelled as `how` says. */
function endedDownload(last: DownloadState, how: { readonly error: string } | { readonly cancelled: true } | { readonly bytesDone: number }): DownloadState {
  const { requestId: _r, error: _e, ...kept } = last;
  return { ...kept, done: true, ...how };
}

/** A Hugging Face download and the progress its model.download events report. */
const downloadActions: SliceCreator<Pick<ModelsSlice, 'downloadModel' | 'cancelDownload' | 'handleDownloadEvent'>> = (set, get, api) => ({
  downloadModel: async (repoText, fileText) => {
    const repo = repoText.trim();
    const file = fileText?.trim() ?? '';
    const start = { repo, file, bytesDone: 0, bytesTotal: 0 };
    const invalid = downloadInputError(repo, file);
    if (invalid) {
      set({ download: { ...start, done: true, error: invalid } });
      return null;
    }
    if (get().download?.done === false) return null;
    const requestId = newRequestId('download');
    set({ download: { ...start, done: false, requestId } });
    const ended = (s: { download: DownloadState | null }, how: Parameters<typeof endedDownload>[1]) =>
      endedDownload(s.download ?? { ...start, done: false }, how);
    try {
      const card = await api.downloadModel({ repo, ...(file ? { file } : {}), requestId });
      set((s) => ({
        cards: { ...s.cards, [card.id]: card },
        selectedModelId: card.id,
        models: order([...s.models.filter((m) => m.id !== card.id), card]),
        download: ended(s, { bytesDone: Math.max(s.download?.bytesTotal ?? 0, s.download?.bytesDone ?? 0) }),
      }));
      return card;
    } catch (e) {
      // A cancel is not a failure, whatever the engine's last event said.
      set((s) => ({ download: ended(s, isCancelled(e) ? { cancelled: true } : { error: errorMessage(e) }) }));
      return null;
    }
  },
  cancelDownload: () => cancelRequest(api, get().download?.requestId, (e) => get().reportError(e, 'Cancel')),
  handleDownloadEvent: (e) => {
    const d = get().download;
    // Another download's events (another window) show too, unless one of ours is running; a finished one never goes back,
    // and one the user cancelled stays cancelled (the engine's last event, done with an error, says so too) until a fresh
    // download of the same files (another window's) shows: its progress below where ours stopped, or its success.
    const same = d !== null && d.repo === e.repo && d.file === e.file;
    if (d && !same && !d.done) return;
    if (d && same && d.cancelled && !(e.done ? e.error === undefined : e.bytesDone < d.bytesDone)) return;
    if (d && same && !d.cancelled && d.done && !e.done) return;
    // The same download's bytes never go back (events may arrive out of order); a fresh one starts from its own.
    const continues = d !== null && same && !d.cancelled;
    set({
      download: {
        ...(continues && d.requestId && !e.done ? { requestId: d.requestId } : {}),
        repo: e.repo,
        file: e.file,
        bytesDone: Math.max(e.bytesDone, continues ? d.bytesDone : 0),
        bytesTotal: e.bytesTotal,
        done: e.done,
        ...(e.error !== undefined ? { error: e.error } : {}),
      },
    });
  },
});
