// Field types the configuration's sections share: one definition each, so every section refuses
// a bad duration or name with the same words.
import { z } from 'zod';

export const duration = z.string().regex(/^\d+(s|m|h|d)$/, 'expected a duration such as "90m", "25h" or "7d"');

export const name = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'expected a lower-case name of letters, digits, "-" or "_" (at most 40)');

export const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable');
