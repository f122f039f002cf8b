/**
 * One seed for every property test (loaded by scripts/run-tests.mjs with
 * --import, before each test file): a failure in CI is a failure on every
 * rerun, not a seed that came up once. A run on 2026-12-07 drew a CAKE
 * counterexample from a random seed that the next run would not have shown.
 * KVLAB_FC_SEED=<n> explores another seed (a counterexample prints its seed and
 * path, and fast-check replays it from them); files and properties that set
 * their own seed keep it.
 */
import fc from 'fast-check';

const raw = process.env['KVLAB_FC_SEED'];
const seed = raw === undefined || raw === '' ? 20261207 : Number(raw);
if (!Number.isInteger(seed)) throw new Error(`KVLAB_FC_SEED must be an integer, got '${raw}'`);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
