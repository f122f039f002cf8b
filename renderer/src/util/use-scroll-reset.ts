/**
 * Scroll position belongs to a screen, not to the app: without this, opening
 * Models after scrolling Compare down lands mid-page, because every screen
 * renders into the same scrolling <main>. The reset runs in a layout effect,
 * before the browser paints the new screen.
 */
import type { RefObject } from 'react';
import { useLayoutEffect } from 'react';

/** Scrolls `ref`'s element back to the top whenever `key` changes (the screen id). */
export function useScrollReset(ref: RefObject<HTMLElement | null>, key: string): void {
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.scrollTop = 0;
    el.scrollLeft = 0;
  }, [ref, key]);
}
