import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import * as yaml from 'js-yaml';
import { parse as parseToml } from 'smol-toml';
import type { DynamicConfig } from './runtime.js';
import { upstreamFixture } from '../fixtures.js';

const SUPPORTED = /\.(ya?ml|toml)$/i;

let validator: ValidateFunction | undefined;
async function schemaValidator(): Promise<ValidateFunction> {
  if (!validator) {
    const schema = JSON.parse(await readFile(upstreamFixture('traefik/schemas/traefik-v3-file-provider.json'), 'utf8')) as object;
    validator = new Ajv({ strict: false, allErrors: false, validateFormats: false }).compile(schema);
  }
  return validator;
}

/**
 * Traefik runs every file through Go's text/template first. The stand-in
 * implements the part that matters for safety and escaping: string literal
 * actions ({{ "{{" }}); any other action is a template error.
 */
function renderTemplate(text: string, file: string): string {
  return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/gs, (_m, action: string) => {
    const lit = /^"((?:[^"\\]|\\.)*)"$|^`([^`]*)`$/.exec(action);
    if (!lit) throw new Error(`${file}: template: ${file}: function "${action.split(/\s+/)[0]}" not defined`);
    return lit[2] ?? JSON.parse(`"${lit[1] ?? ''}"`);
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && SUPPORTED.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function mergeInto(target: DynamicConfig, cfg: DynamicConfig): void {
  for (const proto of ['http', 'tcp', 'udp'] as const) {
    const src = cfg[proto] as Record<string, Record<string, unknown>> | undefined;
    if (!src) continue;
    const dst = ((target as Record<string, Record<string, Record<string, unknown>>>)[proto] ??= {});
    for (const [section, objects] of Object.entries(src)) {
      const into = (dst[section] ??= {}) as Record<string, unknown>;
      // The same name in two files: the first file read wins, later ones are skipped.
      for (const [name, obj] of Object.entries(objects ?? {})) if (!(name in into)) into[name] = obj;
    }
  }
}

/** Reads the whole directory like Traefik's file provider: one bad file fails it all. */
export async function loadDirectory(dir: string): Promise<DynamicConfig> {
  const validate = await schemaValidator();
  const merged: DynamicConfig = {};
  for (const file of await listFiles(dir)) {
    const text = renderTemplate(await readFile(file, 'utf8'), file);
    let cfg: unknown;
    try {
      cfg = /\.toml$/i.test(file) ? parseToml(text) : yaml.load(text);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (cfg === null || cfg === undefined) continue;
    if (!validate(cfg)) {
      const e = validate.errors?.[0];
      const key = e?.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : `${e?.instancePath} ${e?.message}`;
      throw new Error(`${file}: field not found, node: ${key}`);
    }
    mergeInto(merged, cfg as DynamicConfig);
  }
  return merged;
}

/** Signature of the directory's supported files, to notice changes cheaply. */
export async function directorySignature(dir: string): Promise<string> {
  const files = await listFiles(dir).catch(() => []);
  const parts = await Promise.all(files.map(async (f) => {
    const s = await stat(f).catch(() => undefined);
    return `${f}:${s?.size}:${s?.mtimeMs}`;
  }));
  return parts.join('|');
}
