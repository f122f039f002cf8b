/** The Models screen against the fake: the bundled model ready, its card, open by path, errors, and a browser drop. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { act, fireEvent, screen, within } from '@testing-library/react';
import { FAKE_DEMO_MODEL } from '../../renderer/src/api/fake.ts';
import { ModelsScreen } from '../../renderer/src/screens/Models.tsx';
import { settle, setup } from './render.tsx';

test('the bundled model is listed first, selected, and its card shows shape, GQA, KV bytes and RAM', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  const items = within(screen.getByTestId('model-list')).getAllByRole('button');
  assert.equal(items[0]?.getAttribute('data-model-name'), 'kvlab-demo');
  assert.equal(items[0]?.getAttribute('aria-pressed'), 'true');
  assert.match(items[0]?.textContent ?? '', /bundled/);

  assert.equal(screen.getByTestId('card-name').textContent, 'kvlab-demo');
  assert.equal(screen.getByTestId('card-layers').textContent, '6');
  assert.equal(screen.getByTestId('card-heads').textContent, '6');
  assert.equal(screen.getByTestId('card-kv-heads').textContent, '2');
  assert.equal(screen.getByTestId('card-gqa').textContent, '3 : 1');
  // 6 layers × 2 (K,V) × 2 KV heads × 32 dims × 4 bytes = 3072 B per token.
  assert.match(screen.getByTestId('card-kv-bytes').textContent ?? '', /^3\.00 KiB \(f32\) · 1\.50 KiB \(f16\)/);
  // RAM at full context: load + 2048 tokens × 3 KiB = +6 MiB of KV.
  assert.match(screen.getByTestId('card-ram').textContent ?? '', /KV 6\.00 MiB for 2,048 tokens/);
  assert.match(screen.getByTestId('card-metadata').textContent ?? '', /general\.license/);
  assert.equal(FAKE_DEMO_MODEL.bundled, true);
});

test('selecting another model shows its card', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  fireEvent.click(screen.getByTestId('model-item-m-stories260k'));
  await settle();
  assert.equal(screen.getByTestId('card-name').textContent, 'stories260K');
  assert.equal(screen.getByTestId('card-gqa').textContent, '2 : 1');
  assert.equal(h.store.getState().selectedModelId, 'm-stories260k');
});

test('open by path adds and selects the model; a missing file shows the error', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  fireEvent.change(screen.getByTestId('model-path-input'), { target: { value: '/models/qwen-0.5b.gguf' } });
  fireEvent.click(screen.getByTestId('model-open'));
  await settle();
  assert.ok(h.fake.calls.some((c) => c.method === 'openModel' && (c.input as { path: string }).path === '/models/qwen-0.5b.gguf'));
  assert.equal(screen.getByTestId('card-name').textContent, 'qwen-0.5b');
  assert.equal((screen.getByTestId('model-path-input') as HTMLInputElement).value, '', 'the field clears after a successful open');

  fireEvent.change(screen.getByTestId('model-path-input'), { target: { value: '/models/missing.gguf' } });
  fireEvent.click(screen.getByTestId('model-open'));
  await settle();
  assert.match(screen.getByTestId('model-open-error').textContent ?? '', /no such file: \/models\/missing\.gguf/);
});

test('a file dropped in a browser fills its name into the path field and asks for the full path', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  const file = new window.File(['GGUF'], 'my-model.gguf');
  act(() => {
    fireEvent.drop(screen.getByTestId('model-dropzone'), { dataTransfer: { files: [file] } });
  });
  assert.equal((screen.getByTestId('model-path-input') as HTMLInputElement).value, 'my-model.gguf');
  assert.match(screen.getByTestId('model-drop-hint').textContent ?? '', /only tells the file's name/);
  assert.ok(!h.fake.calls.some((c) => c.method === 'openModel'), 'nothing is opened from a bare name');
});

test('download from Hugging Face with the fake: the progress bar moves, then the model is added and selected', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  const seen: { bytesDone: number; done: boolean }[] = [];
  h.fake.onEvent((e) => {
    if (e.type === 'model.download') seen.push({ bytesDone: e.bytesDone, done: e.done });
  });
  fireEvent.change(screen.getByTestId('hf-repo'), { target: { value: 'test-org/tiny-gguf' } });
  fireEvent.change(screen.getByTestId('hf-file'), { target: { value: 'tiny-Q8.gguf' } });
  fireEvent.click(screen.getByTestId('hf-download'));
  // One macrotask: the fake has sent its first progress steps, not the model.
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
  const bar = screen.getByTestId('hf-progress');
  const max = Number(bar.getAttribute('aria-valuemax'));
  const mid = Number(bar.getAttribute('aria-valuenow'));
  assert.ok(max > 0 && mid < max, `in progress: ${mid} of ${max}`);
  assert.equal((screen.getByTestId('hf-download') as HTMLButtonElement).disabled, true);
  assert.equal(screen.getByTestId('hf-status').getAttribute('data-done'), 'false');

  await settle();
  assert.equal(screen.getByTestId('hf-status').getAttribute('data-done'), 'true');
  assert.equal(screen.getByTestId('hf-progress').getAttribute('aria-valuenow'), String(max));
  assert.equal(screen.getByTestId('card-name').textContent, 'tiny-Q8');
  assert.ok(within(screen.getByTestId('model-list')).getByText('tiny-Q8'));
  const { requestId, ...input } = h.fake.calls.find((c) => c.method === 'downloadModel')?.input as { requestId?: string };
  assert.deepEqual(input, { repo: 'test-org/tiny-gguf', file: 'tiny-Q8.gguf' });
  assert.match(requestId ?? '', /^download-/);
  assert.equal(screen.queryByTestId('hf-cancel'), null, 'no Cancel once it is done');
  assert.ok(seen.length >= 3 && seen.every((s, i) => i === 0 || s.bytesDone >= (seen[i - 1]?.bytesDone ?? 0)), 'monotone');
  assert.deepEqual(
    seen.map((s) => s.done),
    [...new Array<boolean>(seen.length - 1).fill(false), true],
  );
  assert.equal((screen.getByTestId('hf-repo') as HTMLInputElement).value, '', 'the fields clear after a download');
});

test('download errors: a bad repo id is caught before the call; offline shows the engine message', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  fireEvent.change(screen.getByTestId('hf-repo'), { target: { value: 'not a repo' } });
  fireEvent.click(screen.getByTestId('hf-download'));
  await settle();
  assert.match(screen.getByTestId('hf-error').textContent ?? '', /owner\/name/);
  assert.ok(!h.fake.calls.some((c) => c.method === 'downloadModel'));

  fireEvent.change(screen.getByTestId('hf-repo'), { target: { value: 'offline/model' } });
  fireEvent.click(screen.getByTestId('hf-download'));
  await settle();
  assert.match(screen.getByTestId('hf-error').textContent ?? '', /cannot reach huggingface\.co/);
  assert.equal((screen.getByTestId('hf-download') as HTMLButtonElement).disabled, false);
});

test('a download in flight has Cancel: it stops in the engine and shows as cancelled, not as an error', async () => {
  const h = await setup({ holdLongCalls: true });
  h.render(<ModelsScreen />);
  fireEvent.change(screen.getByTestId('hf-repo'), { target: { value: 'test-org/big-model' } });
  fireEvent.click(screen.getByTestId('hf-download'));
  await settle(); // held a quarter of the way
  const bar = screen.getByTestId('hf-progress');
  assert.equal(Number(bar.getAttribute('aria-valuenow')) * 4, Number(bar.getAttribute('aria-valuemax')));
  fireEvent.click(screen.getByTestId('hf-cancel'));
  await settle();
  const requestId = (h.fake.calls.find((c) => c.method === 'downloadModel')?.input as { requestId?: string }).requestId;
  assert.deepEqual(
    h.fake.calls.filter((c) => c.method === 'cancelCall').map((c) => c.input),
    [{ requestId }],
  );
  assert.equal(screen.queryByTestId('hf-error'), null, 'a cancel is not an error');
  assert.match(screen.getByTestId('hf-cancelled').textContent ?? '', /^The download of test-org\/big-model was cancelled after 5\.00 MiB;/);
  assert.equal((screen.getByTestId('hf-download') as HTMLButtonElement).disabled, false, 'another download can start');
  assert.ok(!h.store.getState().models.some((m) => m.name === 'big-model'), 'nothing was added');
  // The engine's last event (done, with its error) does not turn the cancel into a failure.
  act(() =>
    h.fake.emit({ type: 'model.download', repo: 'test-org/big-model', file: '', bytesDone: 5_242_880, bytesTotal: 20_971_520, done: true, error: 'cancelled' }),
  );
  assert.ok(screen.getByTestId('hf-cancelled'));
  // Another window's fresh download of the same repo (from its own start) shows, from its own bytes.
  act(() => h.fake.emit({ type: 'model.download', repo: 'test-org/big-model', file: '', bytesDone: 1_048_576, bytesTotal: 20_971_520, done: false }));
  assert.equal(screen.queryByTestId('hf-cancelled'), null);
  assert.equal(screen.getByTestId('hf-progress').getAttribute('aria-valuenow'), '1048576');
  assert.equal(screen.queryByTestId('hf-cancel'), null, "no Cancel for another window's download");
});
