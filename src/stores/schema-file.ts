/**
 * `<store dir>/schema.json`: a schema store's version history,
 * `{"versions":[{"version":1,"fields":[...]}, ...]}`, written atomically. The catalog reads the
 * newest version when it loads a store; SchemaService appends versions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readStateFile, writeFileAtomic } from '../plugin/kit/state-file.js';
import type { StoreSchema } from '../plugin/stage.js';

const SCHEMA_FILE = 'schema.json';

interface SchemaFile {
  versions: StoreSchema[];
}

/**
 * The store's newest schema from its schema.json, or undefined when none was set. Synchronous:
 * the catalog reads it at start, before anything is served (see StoreCatalog.load).
 */
export function readSchemaSync(dir: string): StoreSchema | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SCHEMA_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const versions = parseVersions(dir, text);
  return versions[versions.length - 1];
}

export async function readVersions(dir: string): Promise<StoreSchema[]> {
  const text = await readStateFile(path.join(dir, SCHEMA_FILE));
  return text === undefined ? [] : parseVersions(dir, text);
}

function parseVersions(dir: string, text: string): StoreSchema[] {
  const file = JSON.parse(text) as SchemaFile;
  if (!Array.isArray(file?.versions)) throw new Error(`${path.join(dir, SCHEMA_FILE)}: expected {"versions":[...]}`);
  return file.versions;
}

export async function writeVersions(dir: string, versions: readonly StoreSchema[]): Promise<void> {
  const file: SchemaFile = { versions: [...versions] };
  await writeFileAtomic(path.join(dir, SCHEMA_FILE), JSON.stringify(file, null, 2) + '\n', 0o644);
}
