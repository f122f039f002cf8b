/**
 * One entry point for the runner: a workload definition (as written in an
 * experiment file) → its samples. `texts` are the haystack / source texts
 * (niah, fidelity) or the JSONL file contents (longbench), read by the runner.
 */
import { generateFidelity } from './fidelity.ts';
import { generateLongBench } from './longbench.ts';
import { generateNiah } from './niah.ts';
import { generateRuler } from './ruler.ts';
import { parseWorkloadDef } from './types.ts';
import type { GenerateOptions, Sample, WorkloadDefInput } from './types.ts';

export function generateWorkload(def: WorkloadDefInput, opts: GenerateOptions): Sample[] {
  const d = parseWorkloadDef(def);
  switch (d.kind) {
    case 'niah':
      return generateNiah(d, opts);
    case 'ruler':
      return generateRuler(d, opts);
    case 'longbench':
      return generateLongBench(d, opts);
    case 'fidelity':
      return generateFidelity(d, opts);
  }
}
