/**
 * The web UI's job links: a job's page is linked by name, or by `team/name` when the list holds jobs of that
 * name in several teams (the master refuses a bare name that is ambiguous for the caller), and the route
 * parser gives the page the reference back whole.
 */
import { describe, expect, it } from 'vitest';
import { jobPath, jobRef, parseRoute, paths } from '../../web/src/router';

describe('jobPath', () => {
  const list = [
    { name: 'web', team: 'shop' },
    { name: 'web', team: 'games' },
    { name: 'api', team: 'shop' },
  ];

  it('links a unique name by itself and a shared one by team/name, which the router reads back', () => {
    expect(jobPath(list[2], list)).toBe('/jobs/api');
    expect(jobPath(list[0], list)).toBe('/jobs/shop%2Fweb');
    expect(parseRoute(jobPath(list[1], list))).toEqual({ page: 'job', name: 'games/web' });
    expect(parseRoute(jobPath(list[2], list))).toEqual({ page: 'job', name: 'api' });
  });

  it('pages that know the team (build, job page actions) use team/name, which the router reads back whole', () => {
    expect(jobRef(list[0])).toBe('shop/web');
    expect(parseRoute(paths.job(jobRef(list[1])))).toEqual({ page: 'job', name: 'games/web' });
    expect(parseRoute(paths.editJob(jobRef(list[1])))).toEqual({ page: 'job-edit', name: 'games/web' });
  });
});
