// Tauri hashes inline scripts into the CSP by itself, so "no inline
// scripts or styles" is checked here, on what is shipped.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const bad = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.html')) {
      const html = readFileSync(p, 'utf8');
      if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) bad.push(`${p}: inline <script>`);
      if (/<style[\s>]/i.test(html) || /\sstyle=/i.test(html)) bad.push(`${p}: inline style`);
      if (/\son[a-z]+=/i.test(html)) bad.push(`${p}: event attribute`);
    } else if (p.endsWith('.js') || p.endsWith('.mjs')) {
      const js = readFileSync(p, 'utf8');
      if (/\beval\(|new Function\(/.test(js)) bad.push(`${p}: eval`);
    }
  }
}
walk('dist');
// The page's own code never parses text as markup.
function walkSrc(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walkSrc(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
      const src = readFileSync(p, 'utf8');
      if (/innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser/.test(src)) bad.push(`${p}: markup from text`);
    }
  }
}
walkSrc('src');
if (bad.length) {
  console.error(bad.join('\n'));
  process.exit(1);
}
