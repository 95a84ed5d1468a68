// What the frame (main.ts) hands every screen: the language, who is
// signed in, and the frame's own services. Types only, so screens never
// import the frame that imports them.

import type { Me } from './api';
import type { Lang } from './i18n';
import type { Screen } from './logic';

export type Route = { screen: Screen | 'document' | 'viewer'; arg?: number };

export interface Ctx {
  lang: Lang;
  me: Me;
  go(route: Route): void;
  /// Show what went wrong as a sentence, with the core's line below.
  fail(e: unknown): void;
  ok(text: string): void;
  /// Run `work` with the button disabled; failures are shown.
  busy(b: HTMLButtonElement, work: () => Promise<void>): Promise<void>;
  /// The policy's idle time changed: the page's timer follows at once.
  setIdleMinutes(minutes: number): void;
  /// The alerts screen listed these open alerts (the badge follows).
  alertsListed(openIds: number[]): void;
}

/// What the start screens need: the language and a way on once signed in.
export interface StartCtx {
  lang: Lang;
  langButton(then: () => void): HTMLElement;
  show(...nodes: HTMLElement[]): void;
  signedIn(who: Me): void;
  fail(e: unknown): void;
  restart(): void;
  switchUser(): void;
}
