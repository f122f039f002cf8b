/**
 * The schema of every file or folder path a user sends (the API's openModel,
 * an experiment's models, texts and LongBench files). A NUL character cannot
 * be in a path on any system: Node refuses such a path (or cuts it at the NUL)
 * deep inside whatever fs call meets it, so it is refused here, at the
 * boundary, as a bad input rather than answered as a file that is not there.
 */
import { z } from 'zod';

export const NUL_IN_PATH = 'a path cannot contain a NUL character (\\u0000)';

/** A non-empty path of at most `max` characters with no NUL. */
export const pathText = (max = 4096) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !s.includes('\u0000'), NUL_IN_PATH);
