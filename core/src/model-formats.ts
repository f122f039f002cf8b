/**
 * The one list of model formats KV Lab reads: how each is recognised from its
 * name (and, for GGUF, its first four bytes), what it is called, and which
 * file-dialog filter and file association it gets. The engine's loader, the
 * API contract, the desktop shell's open dialog and file associations and the
 * error a wrong file gets all derive from this list, so a new format is named
 * here once (docs/adding-a-model-format.md lists the rest of the work: its
 * reader in the engine).
 */

export interface ModelFormatSpec {
  readonly id: string;
  /** How a model card and a dialog name it. */
  readonly label: string;
  /** A single file, or a folder of files (opened with a folder dialog). */
  readonly shape: 'file' | 'folder';
  /** How the "not a model" error describes it: "a GGUF file (.gguf)". */
  readonly described: string;
  /** Whole file names that identify the format with certainty (for a folder format: a file in it a user may pick instead of the folder). */
  readonly sureNames: readonly string[];
  /** Name endings (case-insensitive) that identify the format with certainty. */
  readonly sureEndings: readonly string[];
  /** The first four bytes of such a file, read when the name is not sure. */
  readonly magic?: string;
  /** Endings that suggest the format but are checked only after every magic (".bin" is anybody's). */
  readonly weakEndings: readonly string[];
  /** True when the installers associate its extension with KV Lab (double-click opens it). */
  readonly associated: boolean;
}

/** In the order the "not a model" error names them. */
export const MODEL_FORMATS = [
  {
    id: 'gguf',
    label: 'GGUF',
    shape: 'file',
    described: 'a GGUF file (.gguf)',
    sureNames: [],
    sureEndings: ['.gguf'],
    magic: 'GGUF',
    weakEndings: [],
    associated: true,
  },
  {
    id: 'llama2c',
    label: 'llama2.c',
    shape: 'file',
    described: 'a llama2.c checkpoint (.bin)',
    sureNames: [],
    sureEndings: [],
    weakEndings: ['.bin'],
    associated: false,
  },
  {
    id: 'hf',
    label: 'Hugging Face',
    shape: 'folder',
    described: 'a Hugging Face folder (config.json + *.safetensors)',
    sureNames: ['config.json'],
    sureEndings: ['.safetensors', '.safetensors.index.json'],
    weakEndings: [],
    associated: false,
  },
] as const satisfies readonly ModelFormatSpec[];

export type ModelFormatId = (typeof MODEL_FORMATS)[number]['id'];

export const MODEL_FORMAT_IDS: readonly ModelFormatId[] = MODEL_FORMATS.map((f) => f.id);

export function modelFormat(id: ModelFormatId): ModelFormatSpec {
  return MODEL_FORMATS.find((f) => f.id === id) as ModelFormatSpec;
}

const endsWithAny = (name: string, endings: readonly string[]): boolean => endings.some((e) => name.toLowerCase().endsWith(e));

/**
 * The format a file is in, from its base name and, only when the name is not
 * sure, its first four bytes (`readMagic` is called at most once, so a caller
 * reads the file only when it has to). null: not a model KV Lab can read.
 * A folder is always 'hf'; the caller checks that before asking.
 */
export function recogniseModelFile(name: string, readMagic: () => string): ModelFormatId | null {
  const formats: readonly ModelFormatSpec[] = MODEL_FORMATS;
  const sure = formats.find((f) => f.sureNames.includes(name) || endsWithAny(name, f.sureEndings));
  if (sure) return sure.id as ModelFormatId;
  const magic = readMagic();
  const byMagic = formats.find((f) => f.magic !== undefined && f.magic === magic);
  if (byMagic) return byMagic.id as ModelFormatId;
  const weak = formats.find((f) => endsWithAny(name, f.weakEndings));
  return weak ? (weak.id as ModelFormatId) : null;
}

/** True for a format held in a folder: a file recognised as one of its files (config.json) means the folder around it. */
export const isFolderFormat = (id: ModelFormatId): boolean => modelFormat(id).shape === 'folder';

/** What the loader says about a file it cannot read: "expected a GGUF file (.gguf), … or a Hugging Face folder (…)". */
export function unreadableModelMessage(): string {
  const all = MODEL_FORMATS.map((f) => f.described);
  return `not a model KV Lab can read: expected ${all.slice(0, -1).join(', ')} or ${all.at(-1) ?? ''}`;
}

/** The open dialog's filter for model files: every single-file format's extensions, without the dot. */
export function modelFileDialogFilter(): { name: string; extensions: string[] } {
  const files = MODEL_FORMATS.filter((f) => f.shape === 'file');
  const extensions = files.flatMap((f) => [...f.sureEndings, ...f.weakEndings]).map((e) => e.replace(/^\./, ''));
  return { name: `Models (${files.map((f) => f.label).join(', ')})`, extensions };
}

/** The extensions (with the dot) the installers associate with KV Lab. */
export const ASSOCIATED_MODEL_EXTENSIONS: readonly string[] = MODEL_FORMATS.filter((f) => f.associated).flatMap((f) => f.sureEndings);
