/**
 * A full disk: creating a store that does not fit fails with TSS_ERR_DISK_FULL and leaves no
 * half-created files; a store created earlier keeps its data and keeps accepting writes, because
 * its ring was preallocated. On a real 2 MB tmpfs where mounting is allowed (root), otherwise in a
 * child process under a file-size limit (ENOSPC and EFBIG map to the same error).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fullDiskScenario } from './disk-full-scenario.js';
import { tempDir } from './test-support.js';

function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function fillUp(dir: string): void {
  const filler = fs.openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(filler, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(filler);
  }
}

/** Runs the scenario in a child limited to 512 KiB per file: store a's 256 KiB ring fits, b's 1 MiB does not. */
function underFileSizeLimit(dir: string): void {
  const script = path.join(__dirname, 'disk-full-scenario.js');
  const r = spawnSync('bash', ['-c', 'ulimit -f 512 && exec "$0" "$1" "$2"', process.execPath, script, dir], { encoding: 'utf8', timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `full-disk scenario under a file-size limit failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /scenario passed/);
}

describe('blockfile on a full disk', () => {
  it('fails creation with TSS_ERR_DISK_FULL and keeps earlier data readable and writable (tmpfs, or a file-size limit)', async () => {
    const dir = tempDir('diskfull');
    if (mountTmpfs(dir)) {
      try {
        await fullDiskScenario(dir, () => fillUp(dir));
      } finally {
        execFileSync('umount', [dir]);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
    underFileSizeLimit(dir);
  });

  it('also holds under a file-size limit (EFBIG), as on machines where tmpfs cannot be mounted', () => {
    underFileSizeLimit(tempDir('diskfull-limit'));
  });
});
