/**
 * The GPU setup panel (on the Models screen) against the fake: it shows the
 * provider in use, every provider with its availability and the reason when
 * unavailable, requests another through updateSettings, and says why a
 * requested provider is not the one running (the engine's fallback reason).
 */
import '../dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fireEvent, screen } from '@testing-library/react';
import type { AppInfo } from '@kvlab/core';
import { GpuSetupPanel } from '../../../renderer/src/screens/GpuSetup.tsx';
import { ModelsScreen } from '../../../renderer/src/screens/Models.tsx';
import { settle, setup, type Harness } from '../render.tsx';

/** Replaces the fake's getAppInfo (the lab process's answer) for one test. */
function engineReports(h: Harness, info: (requested: string) => Omit<AppInfo, 'version' | 'mode' | 'defaultModelId' | 'resultsDir'>): void {
  const original = h.fake.getAppInfo.bind(h.fake);
  Object.assign(h.fake, {
    getAppInfo: async (input: Record<string, never>) => {
      const base = await original(input);
      const settings = await h.fake.getSettings({});
      return { ...base, ...info(settings.executionProvider) };
    },
  });
}

test('the Models screen holds the GPU setup panel', async () => {
  const h = await setup();
  h.render(<ModelsScreen />);
  assert.ok(screen.getByTestId('gpu-setup'));
});

test('shows the provider in use and why the others are unavailable; an unavailable one cannot be chosen', async () => {
  const h = await setup();
  h.render(<GpuSetupPanel />);
  assert.equal(screen.getByTestId('gpu-active').textContent, 'CPU');
  assert.equal(screen.queryByTestId('gpu-fallback'), null);
  assert.equal(screen.getByTestId('gpu-provider-cpu').getAttribute('data-available'), 'true');
  const cuda = screen.getByTestId('gpu-provider-cuda');
  assert.equal(cuda.getAttribute('data-available'), 'false');
  assert.match(cuda.textContent ?? '', /unavailable: no CUDA device found \(fake\)/);
  const select = screen.getByTestId('gpu-select') as HTMLSelectElement;
  assert.equal(select.value, 'cpu');
  assert.equal(select.querySelector<HTMLOptionElement>('option[value="cuda"]')?.disabled, true);
  assert.match(screen.getByTestId('gpu-howto').textContent ?? '', /npm run setup:gpu/);
});

test('choosing an available provider saves it and the panel follows the engine', async () => {
  const h = await setup();
  engineReports(h, (requested) => ({
    executionProvider: requested,
    executionProviders: [
      { id: 'cpu', available: true },
      { id: 'cuda', available: true },
    ],
  }));
  await h.store.getState().loadSettings();
  h.render(<GpuSetupPanel />);
  fireEvent.change(screen.getByTestId('gpu-select'), { target: { value: 'cuda' } });
  await settle();
  assert.ok(h.fake.calls.some((c) => c.method === 'updateSettings' && (c.input as { executionProvider?: string }).executionProvider === 'cuda'));
  assert.equal(h.store.getState().settings?.executionProvider, 'cuda');
  assert.equal(screen.getByTestId('gpu-active').textContent, 'CUDA (NVIDIA, Linux)');
});

test('a requested provider that fell back to the CPU is named with the engine’s reason', async () => {
  const h = await setup();
  await h.fake.updateSettings({ executionProvider: 'cuda' });
  const reason = 'cuda execution provider unavailable (libcudnn.so.9: cannot open shared object file); using CPU';
  engineReports(h, () => ({
    executionProvider: 'cpu',
    executionProviders: [
      { id: 'cpu', available: true },
      { id: 'cuda', available: false, reason },
    ],
  }));
  await h.store.getState().loadSettings();
  h.render(<GpuSetupPanel />);
  assert.equal(screen.getByTestId('gpu-active').textContent, 'CPU');
  assert.match(
    screen.getByTestId('gpu-fallback').textContent ?? '',
    /CUDA \(NVIDIA, Linux\) was requested but is unavailable: cuda execution provider unavailable \(libcudnn\.so\.9/,
  );
  // The requested provider stays selectable (it is the current setting); Check again reloads what the engine says.
  assert.equal((screen.getByTestId('gpu-select') as HTMLSelectElement).value, 'cuda');
  const before = h.fake.calls.filter((c) => c.method === 'getAppInfo').length;
  fireEvent.click(screen.getByTestId('gpu-recheck'));
  await settle();
  assert.ok(h.fake.calls.filter((c) => c.method === 'getAppInfo').length > before);
});

test('on WebGPU it names the adapter and flags a software one; Automatic is a choice and shows what it picked and why', async () => {
  const h = await setup();
  await h.fake.updateSettings({ executionProvider: 'webgpu' });
  engineReports(h, () => ({
    executionProvider: 'webgpu',
    executionProviders: [
      { id: 'cpu', available: true },
      { id: 'webgpu', available: true },
    ],
    executionProviderReason: 'webgpu: asked for by name, on SwiftShader Device (Subzero) (vulkan, a software adapter); correct results, no GPU speed',
    adapter: { name: 'SwiftShader Device (Subzero)', backend: 'vulkan', software: true, source: 'test' },
  }));
  await h.store.getState().loadSettings();
  h.render(<GpuSetupPanel />);
  assert.match(screen.getByTestId('gpu-active').textContent ?? '', /^WebGPU/);
  assert.match(screen.getByTestId('gpu-adapter').textContent ?? '', /SwiftShader Device \(Subzero\) \(vulkan, a software adapter: not a GPU/);
  assert.match(screen.getByTestId('gpu-reason').textContent ?? '', /asked for by name/);
  const select = screen.getByTestId('gpu-select') as HTMLSelectElement;
  assert.equal(select.value, 'webgpu');
  fireEvent.change(select, { target: { value: 'auto' } });
  await settle();
  assert.equal(h.store.getState().settings?.executionProvider, 'auto');
  assert.equal(screen.queryByTestId('gpu-fallback'), null, "'auto' resolving to another provider is no fallback");
});
