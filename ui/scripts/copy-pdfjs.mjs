// pdf.js needs its character maps (Japanese PDFs with non-embedded fonts)
// and standard fonts at run time. They ship inside the app, under
// /pdfjs/, so nothing is ever fetched from outside. The sandbox and the
// eval-based wasm parts are never copied.
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const from = 'node_modules/pdfjs-dist';
const to = 'public/pdfjs';
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
for (const dir of ['cmaps', 'standard_fonts']) cpSync(`${from}/${dir}`, `${to}/${dir}`, { recursive: true });
