/**
 * Generic deliveries: a GenericPush JSON body (shared/api.ts) from any script or Git server hook,
 * authenticated by `Authorization: Bearer <the job's webhook secret>`. Optional deliveryId dedups;
 * without one, deliveries dedup by (repository, ref, sha).
 */
import { badRequest } from '../../shared/errors';
import { arr, checkRefAndSha, need, str, type Json, type ParsedDelivery } from './payload';

/** The repository of a delivery: all the route reads of the body before a job's secret verified it. */
export function genericRepoUrls(body: Json): string[] {
  return typeof body.repository === 'string' && body.repository ? [body.repository] : [];
}

export function parseGeneric(body: Json): ParsedDelivery {
  const repository = need(body.repository, 'repository', 'generic');
  const ref = need(body.ref, 'ref', 'generic');
  const sha = need(body.sha, 'sha', 'generic');
  checkRefAndSha(ref, sha, 'generic');
  let changedFiles: string[] | undefined;
  if (body.changedFiles !== undefined) {
    if (!Array.isArray(body.changedFiles) || body.changedFiles.some((f) => typeof f !== 'string')) {
      throw badRequest('generic webhook: changedFiles must be a list of file paths');
    }
    changedFiles = arr(body.changedFiles) as string[];
  }
  return {
    kind: 'event',
    event: {
      provider: 'generic',
      event: ref.startsWith('refs/tags/') ? 'tag_push' : 'push',
      deliveryId: str(body.deliveryId),
      repoUrls: [repository],
      ref,
      sha,
      before: str(body.before),
      headMessage: str(body.message),
      author: str(body.author),
      changedFiles,
    },
  };
}
