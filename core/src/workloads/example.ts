/**
 * One retrieval example for the Playground: a passkey or single-needle sample
 * from the NIAH generator (niah.ts), unchanged — the prompt layout, the
 * instructions and the templates the demo model was trained on — with the
 * template chosen by the user rather than by the seed.
 *
 * The generator picks a sample's template from its seed, so a chosen template
 * is reached by walking the seed from the one asked for until a sample uses
 * it: the prompt is then exactly what an experiment with that seed would
 * prefill, and the seed it took is returned so it can be reproduced.
 */
import { WorkloadError } from './errors.ts';
import { generateNiah, NEEDLE_TEMPLATES, PASSKEY_TEMPLATES } from './niah.ts';
import type { NeedleTemplate } from './niah.ts';
import type { Sample, TokenCounter } from './types.ts';

export type ExampleKind = 'passkey' | 'needle';

export interface ExampleRequest {
  readonly kind: ExampleKind;
  /** Prompt length in tokens of the counter (the model's tokenizer). */
  readonly contextLength: number;
  /** Needle depth in % of the haystack. */
  readonly depth: number;
  /** 'train-<i>' or 'heldOut-<i>' of the kind's template sets; absent: the seed's own pick among the train templates. */
  readonly template?: string | undefined;
  readonly seed: number;
}

export interface Example {
  readonly sample: Sample;
  /** The seed the sample was generated with (the asked one, or the first after it whose sample uses the template). */
  readonly seed: number;
  /** The template's id ('train-0') as the sample's meta names it. */
  readonly template: string;
  /** The sentence that holds the answer, exactly as it stands in the prompt. */
  readonly needle: string;
}

/** How far the seed is walked for a template: with at most five templates per set, a miss this long means the template does not exist. */
const MAX_SEED_STEPS = 256;

/** The template sets of a kind: what a template picker offers, by id ('train-0', 'heldOut-1'). */
export function exampleTemplates(kind: ExampleKind): { readonly id: string; readonly heldOut: boolean; readonly template: NeedleTemplate }[] {
  const sets = kind === 'passkey' ? PASSKEY_TEMPLATES : NEEDLE_TEMPLATES;
  return [
    ...sets.train.map((template, i) => ({ id: `train-${i}`, heldOut: false, template })),
    ...sets.heldOut.map((template, i) => ({ id: `heldOut-${i}`, heldOut: true, template })),
  ];
}

/** One passkey or single-needle sample in the generator's format; throws WorkloadError for a template that does not exist. */
export function exampleSample(req: ExampleRequest, counter: TokenCounter): Example {
  const name = req.kind === 'passkey' ? 'niah-passkey' : 'niah-single';
  const choice = req.template === undefined ? undefined : exampleTemplates(req.kind).find((t) => t.id === req.template);
  if (req.template !== undefined && !choice) {
    const ids = exampleTemplates(req.kind).map((t) => t.id);
    throw new WorkloadError(name, `no ${req.kind} template '${req.template}' (there are ${ids.join(', ')})`);
  }
  for (let step = 0; step < MAX_SEED_STEPS; step++) {
    const seed = req.seed + step;
    const [sample] = generateNiah(
      {
        kind: 'niah',
        variant: req.kind === 'passkey' ? 'passkey' : 'single',
        contextLengths: [req.contextLength],
        depths: [req.depth],
        heldOutTemplates: choice?.heldOut ?? false,
      },
      { seed, counter },
    );
    if (!sample) break;
    const template = String(sample.meta['template']);
    if (choice && template !== choice.id) continue;
    const used = choice?.template ?? exampleTemplates(req.kind).find((t) => t.id === template)?.template;
    const key = String(sample.meta['key']);
    const value = sample.answers[0] ?? '';
    const needle = (used?.statement ?? '').replaceAll('{key}', key).replaceAll('{value}', value);
    return { sample, seed, template, needle };
  }
  throw new WorkloadError(name, `no seed from ${req.seed} to ${req.seed + MAX_SEED_STEPS - 1} gives template '${req.template ?? ''}'`);
}
