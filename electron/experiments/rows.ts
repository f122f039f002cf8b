/**
 * The result-row shapes live in core (the API contract names them). This
 * re-export survives only because runner.ts still imports it; every other
 * importer reads '@kvlab/core'. Delete it once runner.ts does too.
 */
export type { AnyRow, CheckRow, FidelityMetrics, KvMeasurement, ProfileRow, Provenance, ResultRow, SanityFlag } from '@kvlab/core';
