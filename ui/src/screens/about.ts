// About (I4): the app's version, that it makes no network connection, the
// algorithms it uses with their format ids, and its dependency inventory
// from the CycloneDX SBOM built into it. Every role sees it.

import { api } from '../api';
import { el, table } from '../dom';
import { t } from '../i18n';
import type { Ctx } from '../ctx';

export async function aboutScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const a = await api.about();
  area.replaceChildren(
    el('h1', {}, t(c.lang, 'about')),
    el('p', { id: 'about-version' }, `Kinko (金庫) ${t(c.lang, 'version')} ${a.version}`),
    el('p', { id: 'about-network' }, `${t(c.lang, 'network')}: ${t(c.lang, 'noNetwork')}`),
    el('h2', {}, t(c.lang, 'algorithmsInUse')),
    table('about-algorithms',
      [t(c.lang, 'purpose_'), t(c.lang, 'algorithm'), t(c.lang, 'algorithmId'), t(c.lang, 'cryptrecList')],
      a.algorithms.map((x) => [x.purpose, x.algorithm, x.id, x.cryptrec ? '○' : '－'])),
    el('h2', {}, `${t(c.lang, 'dependencies')}: ${a.sbom_format}, ${a.components.length}`),
    table('about-components', [t(c.lang, 'name_'), t(c.lang, 'version'), t(c.lang, 'license')],
      a.components.map((x) => [x.name, x.version, x.license])),
  );
}
