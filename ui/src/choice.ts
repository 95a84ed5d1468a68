// A file or folder the person picks in the system's chooser (or drops on
// the window). The shell keeps the path; the page holds only the
// one-time handle it was given and shows the name. A handle is spent by
// the command it is sent to, so the choice clears as it is used.

import { api, type Chosen } from './api';
import { button, el, field } from './dom';
import { t } from './i18n';
import type { Ctx } from './ctx';

export interface Choice {
  element: HTMLElement;
  /// The handle for the command, spent as it is taken ('' if none).
  take(): string;
  set(chosen: Chosen | null): void;
}

export function choice(c: Ctx, id: string, kind: 'file' | 'folder', label = kind === 'file' ? 'filePath' : 'saveFolder'): Choice {
  let chosen: Chosen | null = null;
  const shown = el('output', { id, class: 'chosen' });
  const set = (x: Chosen | null) => {
    chosen = x;
    shown.textContent = x ? x.name : t(c.lang, 'nothingChosen');
  };
  set(null);
  const pick = button(t(c.lang, kind === 'file' ? 'chooseFile' : 'chooseFolder'), `${id}-pick`, (b) => c.busy(b, async () => {
    const p = kind === 'file' ? await api.pickFile() : await api.pickFolder();
    if (p) set(p);
  }), 'quiet');
  return {
    element: el('div', { class: 'row' }, field(t(c.lang, label as 'filePath'), shown), pick),
    take: () => {
      const h = chosen?.handle ?? '';
      set(null);
      return h;
    },
    set,
  };
}
