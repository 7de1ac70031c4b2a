/** See build-cache.js. */
export function sourceHash(root: string, options: { dirs: string[]; files?: string[]; extensions: string[] }): string;
export function buildOnce(file: string, build: (partial: string) => void): string;
