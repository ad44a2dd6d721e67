import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_DOCS, renderErrorsDoc } from '../src/core/error-docs.js';
import { ERRORS } from '../src/plugin/errors.js';
import { ROOT } from './support/server.js';

describe('docs/errors.md', () => {
  const page = fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');

  it('is the page generated from the catalog (run `npm run docs:errors` if this fails)', () => {
    assert.equal(page, renderErrorsDoc());
  });

  it('documents every catalog code with its status, message and an explanation', () => {
    for (const [code, { status, message }] of Object.entries(ERRORS)) {
      const doc = (ERROR_DOCS as Record<string, { when: string } | undefined>)[code];
      assert.ok(doc && doc.when.trim().length > 20, `${code} has no explanation in src/core/error-docs.ts`);
      const section = page.split(`\n## ${code}\n`)[1]?.split('\n## ')[0];
      assert.ok(section, `docs/errors.md has no section for ${code}`);
      assert.ok(section.includes(`HTTP ${status}`) && section.includes(message) && section.includes(doc.when), `the section of ${code} is incomplete`);
    }
  });

  it('explains no code the catalog does not have', () => {
    assert.deepEqual(
      Object.keys(ERROR_DOCS).filter((c) => !(c in ERRORS)),
      [],
    );
    const sections = [...page.matchAll(/^## (TSS_ERR_\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(sections, Object.keys(ERRORS));
  });
});
