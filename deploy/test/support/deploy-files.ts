import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';

export const root = process.cwd();

export interface ComposeService {
  image?: string;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  network_mode?: string;
  command?: string[];
  volumes?: string[];
  secrets?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

/** A compose file of the repository as written (YAML 1.1 for the merge keys, <<: *hardening). */
export function readCompose(file: string): ComposeFile {
  return yaml.load(readFileSync(join(root, file), 'utf8'), { schema: yaml.YAML11_SCHEMA }) as ComposeFile;
}

export interface DockerfileTarget {
  name: string;
  /** The HEALTHCHECK's CMD (exec form), if any. */
  healthcheck?: string[];
  expose: number[];
  cmd?: string[];
  text: string;
}

/** The Dockerfile's stages by name, with their HEALTHCHECK, EXPOSE and CMD. */
export function readDockerfile(): Record<string, DockerfileTarget> {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const targets: Record<string, DockerfileTarget> = {};
  const stages = text.split(/^(?=FROM )/m).slice(1);
  for (const stage of stages) {
    const name = /^FROM \S+ AS (\S+)/.exec(stage)?.[1];
    if (!name) continue;
    const hc = /^HEALTHCHECK .*?CMD (\[.*\])$/m.exec(stage)?.[1];
    const cmd = /^CMD (\[.*\])$/m.exec(stage)?.[1];
    targets[name] = {
      name,
      ...(hc ? { healthcheck: JSON.parse(hc) as string[] } : {}),
      ...(cmd ? { cmd: JSON.parse(cmd) as string[] } : {}),
      expose: [...stage.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/).map(Number)),
      text: stage,
    };
  }
  return targets;
}

/** The port of a "host:port" or URL argument. */
export function portOf(address: string): number {
  return Number(/:(\d+)(?:\/|$)/.exec(address)?.[1]);
}
