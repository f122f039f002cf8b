/**
 * Layer-profile rows (kind 'profile') summarised per model.
 */
import type { ProfileRow } from '../api/rows.ts';
import { meanVectors } from './stat.ts';
import { byString } from './order.ts';

export interface ProfileSummary {
  readonly model: string;
  readonly workload: string;
  readonly samples: number;
  readonly tau: number;
  readonly tauO: number;
  readonly lmba: readonly number[];
  readonly lmbo: readonly number[];
}

/** Mean LMBA and LMBO per layer over a (model, workload, τ, τO)'s profile rows. */
export function profileSummaries(profiles: readonly ProfileRow[]): ProfileSummary[] {
  const by = new Map<string, ProfileRow[]>();
  for (const p of profiles) {
    const k = [p.model.name, p.workload, p.tau, p.tauO].join('\u0000');
    const list = by.get(k);
    if (list) list.push(p);
    else by.set(k, [p]);
  }
  const out: ProfileSummary[] = [];
  for (const ps of by.values()) {
    const first = ps[0];
    if (!first) continue;
    const layers = Math.max(...ps.map((p) => p.lmba.length));
    out.push({
      model: first.model.name,
      workload: first.workload,
      samples: ps.length,
      tau: first.tau,
      tauO: first.tauO,
      lmba: meanVectors(
        ps.map((p) => p.lmba),
        layers,
      ),
      lmbo: meanVectors(
        ps.map((p) => p.lmbo),
        layers,
      ),
    });
  }
  return out.sort((a, b) => byString(a.model, b.model) || byString(a.workload, b.workload) || a.tau - b.tau || a.tauO - b.tauO);
}
