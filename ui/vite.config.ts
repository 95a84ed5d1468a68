import { defineConfig } from 'vite';

// Everything is bundled into files (no inline scripts or styles, no data:
// URLs), so the app's strict CSP holds.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'esnext', assetsInlineLimit: 0 },
  test: { environment: 'node' },
});
