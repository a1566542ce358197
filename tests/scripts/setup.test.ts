// scripts/setup.sh fails when the native addon does not build (CI must not go green with every native test
// skipped), unless BITSCALE_NATIVE=0 asks for the js backend only. Run on a scratch copy whose node-gyp fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const root = mkdtempSync(join(tmpdir(), 'bitscale-setup-'));
after(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'scripts'));
copyFileSync('scripts/setup.sh', join(root, 'scripts/setup.sh'));
writeFileSync(join(root, 'package.json'), '{}');
mkdirSync(join(root, 'node_modules/tsx'), { recursive: true });
writeFileSync(join(root, 'node_modules/.package-lock.json'), '{}'); // newer than package.json: npm is not run
mkdirSync(join(root, 'native/cpu'), { recursive: true });
mkdirSync(join(root, 'native/common'), { recursive: true });
writeFileSync(join(root, 'native/cpu/binding.gyp'), '{}');
// An npx whose node-gyp fails the way a broken compiler would.
mkdirSync(join(root, 'bin'));
writeFileSync(join(root, 'bin/npx'), '#!/bin/sh\necho "kernel.cc:1: error: broken on purpose"\nexit 1\n');
chmodSync(join(root, 'bin/npx'), 0o755);

const setup = (env: Record<string, string> = {}) =>
  spawnSync('bash', [join(root, 'scripts/setup.sh')], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${join(root, 'bin')}:${process.env.PATH}`,
      BITSCALE_BROWSER_TESTS: '0',
      ...env,
    },
  });

test('a native addon that fails to build fails the set-up, showing the compiler error', () => {
  const r = setup();
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /broken on purpose/);
  assert.match(r.stderr, /BITSCALE_NATIVE=0/);
});

test('BITSCALE_NATIVE=0 skips the addon on purpose and succeeds', () => {
  const r = setup({ BITSCALE_NATIVE: '0' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /js backend/);
});

test('an unknown option is refused', () => {
  assert.equal(spawnSync('bash', [join(root, 'scripts/setup.sh'), '--bnech']).status, 2);
});
