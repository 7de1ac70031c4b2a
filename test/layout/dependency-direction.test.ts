import fs from 'node:fs';
import path from 'node:path';

/**
 * Dependencies point one way: workflows → activities → libraries (`klaviyo/`, `warehouse/`, `control-plane/`,
 * `secrets/`, `shared/`); the CLI (`client/`) and the console sit on top. Nothing below them may import from them, or a change to
 * a user-facing page could break a running worker; no library imports an activity.
 */
const root = path.resolve(__dirname, '..', '..');
const lowerLayers = [
  'workflows',
  'activities',
  'klaviyo',
  'warehouse',
  'control-plane',
  'secrets',
  'worker',
  'shared',
  'stack',
  'sandbox',
];
const upperLayers = ['client', 'console'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(full);
    return /\.(ts|tsx|js)$/.test(entry.name) ? [full] : [];
  });
}

function importedPaths(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((spec) => path.relative(root, path.resolve(path.dirname(file), spec)));
}

test.each(lowerLayers)('%s/ imports nothing from client/ or console/', (layer) => {
  const wrongWay = sourceFiles(path.join(root, layer)).flatMap((file) =>
    importedPaths(file)
      .filter((target) => upperLayers.some((upper) => target === upper || target.startsWith(`${upper}${path.sep}`)))
      .map((target) => `${path.relative(root, file)} → ${target}`),
  );
  expect(wrongWay).toEqual([]);
});

const libraries = ['klaviyo', 'warehouse', 'control-plane', 'secrets', 'shared'];

test.each(libraries)('%s/ (a library) imports nothing from activities/, workflows/ or worker/', (library) => {
  const wrongWay = sourceFiles(path.join(root, library)).flatMap((file) =>
    importedPaths(file)
      .filter((target) =>
        ['activities', 'workflows', 'worker'].some((layer) => target.startsWith(`${layer}${path.sep}`)),
      )
      .map((target) => `${path.relative(root, file)} → ${target}`),
  );
  expect(wrongWay).toEqual([]);
});

test('secrets/ imports nothing but shared/, so every layer can use it', () => {
  const outside = sourceFiles(path.join(root, 'secrets')).flatMap((file) =>
    importedPaths(file)
      .filter((target) => !target.startsWith(`secrets${path.sep}`) && !target.startsWith(`shared${path.sep}`))
      .map((target) => `${path.relative(root, file)} → ${target}`),
  );
  expect(outside).toEqual([]);
});

test.each(upperLayers)(
  '%s/ (a door) reaches the engine only through the libraries, not activities/, workflows/ or worker/',
  (door) => {
    const wrongWay = sourceFiles(path.join(root, door)).flatMap((file) =>
      importedPaths(file)
        .filter((target) =>
          ['activities', 'workflows', 'worker'].some((layer) => target.startsWith(`${layer}${path.sep}`)),
        )
        .map((target) => `${path.relative(root, file)} → ${target}`),
    );
    expect(wrongWay).toEqual([]);
  },
);

test('the check sees an import that points the wrong way', () => {
  const file = path.join(root, 'activities', 'example.ts');
  const text = "import { a } from '../client/dataflow-api';\nconst b = await import('../console/main');\n";
  expect(importedPaths(file, text)).toEqual([path.join('client', 'dataflow-api'), path.join('console', 'main')]);
});
