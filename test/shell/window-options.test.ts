/**
 * The main window's options (electron/shell/window-options.ts): every
 * security flag the issue names, and the 1280×800 size that shrinks only to
 * fit a smaller screen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mainWindowOptions, secureWebPreferences } from '../../electron/shell/window-options.ts';

describe('secureWebPreferences', () => {
  it('isolates and sandboxes the renderer with no Node anywhere', () => {
    const p = secureWebPreferences('/app/dist/electron/preload.cjs', false);
    assert.equal(p.preload, '/app/dist/electron/preload.cjs');
    assert.equal(p.contextIsolation, true);
    assert.equal(p.sandbox, true);
    assert.equal(p.nodeIntegration, false);
    assert.equal(p.nodeIntegrationInWorker, false);
    assert.equal(p.nodeIntegrationInSubFrames, false);
    assert.equal(p.webSecurity, true);
    assert.equal(p.allowRunningInsecureContent, false);
    assert.equal(p.webviewTag, false);
    assert.equal(p.navigateOnDragDrop, false);
    assert.equal(p.experimentalFeatures, false);
    assert.equal(p.devTools, false);
    assert.equal(secureWebPreferences('/p', true).devTools, true);
  });
});

describe('mainWindowOptions', () => {
  it('is 1280×800 and never smaller on a large screen', () => {
    const o = mainWindowOptions('/p', { width: 2560, height: 1400 }, { devTools: false, dark: false });
    assert.deepEqual([o.width, o.height, o.minWidth, o.minHeight], [1280, 800, 1280, 800]);
    assert.equal(o.show, false, 'shown on ready-to-show, so no blank frame');
    assert.equal(o.webPreferences?.sandbox, true);
  });
  it('fits a smaller work area instead of overflowing it', () => {
    const o = mainWindowOptions('/p', { width: 1366, height: 728 }, { devTools: false, dark: true });
    assert.deepEqual([o.width, o.height, o.minWidth, o.minHeight], [1280, 728, 1280, 728]);
  });
  it('starts with the theme background', () => {
    assert.notEqual(
      mainWindowOptions('/p', { width: 1920, height: 1080 }, { devTools: false, dark: true }).backgroundColor,
      mainWindowOptions('/p', { width: 1920, height: 1080 }, { devTools: false, dark: false }).backgroundColor,
    );
  });
});
