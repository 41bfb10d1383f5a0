/**
 * The image and deploy kinds' conformance fixtures, against the real Docker engine and the registry `npm test`
 * starts (SLIPWAY_REGISTRY): a busybox base image is built and pushed once; the image step builds an app layer
 * FROM it and pushes it; the deploy step runs one busybox httpd instance checked by TCP. `cleanUpDocker`
 * removes what they made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerClient } from '../../../agent/docker/engine';
import { buildImage } from '../../../agent/docker/image-build';
import { pushImage } from '../../../agent/docker/image-push';
import { down } from '../../../agent/deploy/rollout';
import { deployExecutor } from '../../../agent/executors/deploy';
import { imageExecutor } from '../../../agent/executors/image';
import type { RegistryAccess } from '../../../shared/protocol';
import { busyboxContext, removeImages, uniqueName } from '../../helpers/docker';
import type { KindFixture } from '../step-executor.contract';

const ns = uniqueName('conf');
export const DEPLOY_APP = `${ns}-app`;
let base: Promise<string> | undefined;

function registries(): RegistryAccess[] {
  const url = process.env.SLIPWAY_REGISTRY;
  if (!url) throw new Error('SLIPWAY_REGISTRY is not set: run the tests through `npm test`');
  return [{ name: 'test', url }];
}

/** `<registry>/<ns>/busybox:1`, built and pushed once per test file. */
function baseImage(): Promise<string> {
  base ??= (async () => {
    const ref = `${registries()[0].url}/${ns}/busybox:1`;
    const dir = mkdtempSync(join(tmpdir(), 'slipway-conf-base-'));
    try {
      busyboxContext(dir);
      const docker = dockerClient();
      await buildImage(docker, { context: dir, tags: [ref], log: () => undefined });
      await pushImage(docker, ref, { log: () => undefined });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return ref;
  })();
  return base;
}

export const imageFixture: KindFixture = {
  executor: imageExecutor,
  good: async () => {
    await baseImage();
    return { config: { name: `${ns}/app`, from: `${ns}/busybox:1` }, registries: registries() };
  },
  invalid: { config: { name: 'Shop/Web', from: 'x' }, field: /name/ },
};

export const deployFixture: KindFixture = {
  executor: deployExecutor,
  good: async () => ({
    config: {
      app: DEPLOY_APP,
      image: await baseImage(),
      composeInline: 'services:\n  web:\n    image: ${IMAGE}\n    command: "httpd -f -p $$PORT -h /tmp"\n    healthcheck: { tcp: true, start_period: 1s, interval: 100ms, retries: 3 }\n    deploy: { replicas: 1 }\n',
    },
    registries: registries(),
  }),
  invalid: { config: { compose: '../outside.yml' }, field: /compose/ },
};

export async function cleanUpDocker(): Promise<void> {
  const docker = dockerClient();
  await down({ docker, app: DEPLOY_APP, environment: 'conformance', host: '127.0.0.1', log: () => undefined });
  const images = await docker.listImages({ filters: { reference: [`*/${ns}/*`] } });
  await removeImages(docker, images.flatMap((i) => i.RepoTags ?? []));
}
