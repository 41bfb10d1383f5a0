/** Password hashing with bcrypt (bcryptjs, async so a login does not block the event loop). */
import bcrypt from 'bcryptjs';
import { badRequest } from '../../shared/errors';

const COST = 10;
// Compared against when the user does not exist, so a login takes as long for unknown users as for known ones.
// A cost-10 hash of a random password nobody kept, written here rather than computed at every master start
// (bcryptjs.hashSync took ~0.3 s of CPU there, a fifth of a restart: part of agent_upgrade_s).
const DUMMY_HASH = '$2b$10$bzQt8mGTntoEZQNxiikws.GhU/9igZSyyZxrt4xs/3jhSQejPRouW';

export const MIN_PASSWORD_LENGTH = 8;

/** Hashes a password; throws invalid_request naming the rule when it is too short or too long. */
export async function hashPassword(password: string): Promise<string> {
  checkPassword(password);
  return bcrypt.hash(password, COST);
}

export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH)
    throw badRequest(`password: must be at least ${MIN_PASSWORD_LENGTH} characters`);
  // bcrypt only reads the first 72 bytes; refusing longer passwords avoids a false sense of strength.
  if (Buffer.byteLength(password) > 72) throw badRequest('password: must be at most 72 bytes');
}

/** Constant-work check: always runs one bcrypt compare, even without a stored hash. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
  return ok && hash !== undefined;
}
