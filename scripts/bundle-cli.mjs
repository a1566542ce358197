#!/usr/bin/env node
// Bundles the bitscale CLI into one JavaScript file for machines that have Node but no npm or node_modules
// (the GPU hosts): `node scripts/bundle-cli.mjs [out-dir]` writes <out-dir>/bitscale.mjs (default .device/)
// and a minimal node_modules beside it holding better-sqlite3, the one dependency with a native part.
// Run it there with `BITSCALE_CLI=<out-dir>/bitscale.mjs node <out-dir>/bitscale.mjs ...` so that sweep
// workers start the bundle too. The out-dir must sit directly in the repository root: sources find their
// data (presets, corpora, addons) relative to their own path, which the bundle rewrites relative to it.
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? '.device');
if (dirname(outDir) !== root) throw new Error(`bundle-cli: ${outDir} must be a folder directly in ${root}`);

/** Every `import.meta.url` in our sources becomes the URL the file would have in the repository. */
const originalUrls = {
  name: 'original-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[/\\]src[/\\].*\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const rel = relative(root, args.path).split('\\').join('/');
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(rel)}, __bitscaleRoot).href`,
        ),
        loader: 'ts',
      };
    });
  },
};

await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(outDir, 'bitscale.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // better-sqlite3 has a native part; esbuild (the report's explorer bundles the laws module at run time) has
  // a native binary and finds it relative to its own files: both stay packages, resolved at run time.
  external: ['better-sqlite3', 'esbuild'],
  plugins: [originalUrls],
  banner: {
    js: [
      "import { createRequire as __bitscaleRequire } from 'node:module';",
      'const require = __bitscaleRequire(import.meta.url);',
      "const __bitscaleRoot = new URL('../', import.meta.url);",
    ].join('\n'),
  },
  logLevel: 'warning',
});

const modules = join(outDir, 'node_modules');
rmSync(modules, { recursive: true, force: true });
for (const [name, parts] of [
  ['better-sqlite3', ['package.json', 'lib', 'build/Release/better_sqlite3.node']],
  ['bindings', ['package.json', 'bindings.js']],
  ['file-uri-to-path', ['package.json', 'index.js']],
]) {
  for (const part of parts) {
    const to = join(modules, name, part);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(root, 'node_modules', name, part), to, { recursive: true });
  }
}
console.log(`bundle-cli: wrote ${join(outDir, 'bitscale.mjs')} and ${modules}`);
