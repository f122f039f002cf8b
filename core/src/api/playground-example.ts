/**
 * The answer to the playgroundExample call, from core's example generator
 * (workloads/example.ts): one function for the host and the renderer's fake,
 * which differ only in how they count tokens (the model's tokenizer, or words).
 */
import type { TokenCounter } from '../workloads/types.ts';
import { exampleSample, type ExampleRequest } from '../workloads/example.ts';
import type { PlaygroundExample } from './contract.ts';

export function playgroundExample(req: ExampleRequest, counter: TokenCounter): PlaygroundExample {
  const { sample, seed, template, needle } = exampleSample(req, counter);
  return {
    kind: req.kind,
    prompt: sample.prompt,
    answers: [...sample.answers],
    needle,
    template,
    seed,
    contextLength: req.contextLength,
    depth: req.depth,
    promptTokens: Number(sample.meta['tokens']),
    maxNewTokens: sample.maxNewTokens,
  };
}
