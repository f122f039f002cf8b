/** Files the OS asks the app to open (file associations): which command-line operands are models to add. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filesFromArgv, isOpenableFile, OPENABLE_EXTENSIONS } from '../../electron/shell/open-files.ts';

describe('open-files', () => {
  it('opens .gguf files, in any case', () => {
    assert.deepEqual(OPENABLE_EXTENSIONS, ['.gguf']);
    assert.equal(isOpenableFile('/m/model.gguf'), true);
    assert.equal(isOpenableFile('C:\\m\\MODEL.GGUF'), true);
    assert.equal(isOpenableFile('/m/model.bin'), false);
    assert.equal(isOpenableFile('/m/gguf'), false);
  });

  it('takes operands after the executable, skipping switches, resolved against the launch folder', () => {
    const argv = ['/opt/KV Lab/kv-lab', '--no-sandbox', 'models/a.gguf', '/abs/b.GGUF', 'notes.txt', '', '--flag=x.gguf'];
    assert.deepEqual(filesFromArgv(argv, { cwd: '/home/u', defaultApp: false }), ['/home/u/models/a.gguf', '/abs/b.GGUF']);
  });

  it('skips the app folder under `electron .`', () => {
    assert.deepEqual(filesFromArgv(['electron', 'x.gguf', 'y.gguf'], { cwd: '/w', defaultApp: true }), ['/w/y.gguf']);
  });

  it('accepts file:// URLs (a Linux desktop entry passes %U) and ignores other hosts', () => {
    assert.deepEqual(filesFromArgv(['kv-lab', 'file:///data/My%20Model.gguf', 'file://server/share/m.gguf'], { cwd: '/', defaultApp: false }), [
      '/data/My Model.gguf',
    ]);
  });

  it('answers nothing for a missing argv (a second-instance event without one)', () => {
    assert.deepEqual(filesFromArgv(undefined, { cwd: '/', defaultApp: false }), []);
  });
});
