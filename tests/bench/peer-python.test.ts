// The benchmarks' Python peers: Debian's interpreter or a clear reason (with the set-up command) why not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { PEER_PYTHON, peerPythonProblem } from '../../bench/peer-python.ts';

test('the peers run on /usr/bin/python3, not the python3 on PATH', () => {
  assert.equal(PEER_PYTHON, process.env.BITSCALE_PEER_PYTHON || '/usr/bin/python3');
});

test('a module the interpreter has is no problem; a missing one names its Debian package and the set-up', () => {
  assert.equal(peerPythonProblem(['json', 'math'], '/usr/bin/python3'), null);
  const missing = peerPythonProblem(['scipy', 'no_such_module_here'], '/usr/bin/python3');
  assert.match(missing ?? '', /cannot import scipy, no_such_module_here \(.*Error/);
  assert.match(missing ?? '', /bash scripts\/setup\.sh --bench.*python3-scipy/);
});

test('a missing interpreter and a failed capability check are reported', () => {
  assert.match(
    peerPythonProblem(['json'], '/nonexistent/python3') ?? '',
    /\/nonexistent\/python3 cannot run/,
  );
  assert.match(peerPythonProblem(['math'], '/usr/bin/python3', 'math.pi < 3') ?? '', /math\.pi < 3 is false/);
});

test('a benchmark without its peer says why and exits 1', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./bench/peer-python.ts').then((m) => m.peerPython(['no_such_module_here']))",
    ],
    { encoding: 'utf8', env: { ...process.env, BITSCALE_PEER_PYTHON: '/usr/bin/python3' } },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /benchmark peer unavailable: .*cannot import no_such_module_here/);
});
