/** The result-row shapes live in core (the API contract names them); re-exported for the main process. */
export type { AnyRow, CheckRow, FidelityMetrics, KvMeasurement, ProfileRow, Provenance, ResultRow, SanityFlag } from '@kvlab/core';
