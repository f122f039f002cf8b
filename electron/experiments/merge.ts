/**
 * `kvlab merge`: combines the results folders of shards of ONE experiment
 * (same definition hash) into one folder; refuses folders from different
 * experiments. Rows are de-duplicated by cell id (a cell run by two shards
 * keeps the first copy).
 */
import { readExperiment, readRows, ResultsStore, StoreError } from './store.ts';

export function mergeResults(outDir: string, inputs: readonly string[]): { rows: number; duplicates: number } {
  const first = inputs[0];
  if (!first) throw new StoreError(outDir, 'nothing to merge');
  const exp = readExperiment(first);
  for (const dir of inputs.slice(1)) {
    const other = readExperiment(dir);
    if (other.hash !== exp.hash)
      throw new StoreError(dir, `is from a different experiment (hash ${other.hash.slice(0, 12)} ≠ ${exp.hash.slice(0, 12)} of ${first})`);
  }
  const store = ResultsStore.open(outDir, exp.definition, exp.hash);
  let rows = 0;
  let duplicates = 0;
  try {
    for (const dir of inputs) {
      for (const row of readRows(dir)) {
        if (store.has(row.cellId)) {
          duplicates++;
          continue;
        }
        store.append(row);
        rows++;
      }
    }
  } finally {
    store.close();
  }
  return { rows, duplicates };
}
