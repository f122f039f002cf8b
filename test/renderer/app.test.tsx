/** The whole app on the fake: every screen reachable from the sidebar by data-testid, the hash route, the theme switch, Reports export. */
import './dom.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { act, fireEvent, screen } from '@testing-library/react';
import type { ExportedFile } from '@kvlab/core';
import { App } from '../../renderer/src/App.tsx';
import { FAKE_SMALL_EXPERIMENT } from '../../renderer/src/api/fake.ts';
import { ReportsScreen } from '../../renderer/src/screens/Reports.tsx';
import { SCREENS } from '../../renderer/src/store/ui.ts';
import { exportedFileBlob } from '../../renderer/src/util/download.ts';
import { settle, setup } from './render.tsx';

test('every screen is reachable from the sidebar and mirrored in the URL hash', async () => {
  const h = await setup({ seedRuns: [{ name: 'seeded', experiment: FAKE_SMALL_EXPERIMENT }] });
  h.render(<App />);
  for (const s of SCREENS) {
    fireEvent.click(screen.getByTestId(`nav-${s.id}`));
    await settle();
    assert.equal(screen.getByTestId('main').getAttribute('data-screen'), s.id);
    assert.equal(screen.getByTestId(`nav-${s.id}`).getAttribute('aria-current'), 'page');
    assert.equal(location.hash, `#/${s.id}`);
  }
  // Compare is mounted with the selected run's rows.
  fireEvent.click(screen.getByTestId('nav-compare'));
  await settle();
  assert.equal((screen.getByTestId('compare-run-select') as HTMLSelectElement).value, h.store.getState().runs[0]?.id);
  assert.ok((h.store.getState().rows[h.store.getState().runs[0]?.id ?? ''] ?? []).length > 0);

  act(() => {
    location.hash = '#/builder';
    window.dispatchEvent(new window.HashChangeEvent('hashchange'));
  });
  assert.equal(screen.getByTestId('main').getAttribute('data-screen'), 'builder');
});

test('the theme switch saves the setting and paints data-theme', async () => {
  const h = await setup();
  h.render(<App />);
  assert.equal(document.documentElement.dataset['theme'], 'light', 'system + a light OS preference');
  fireEvent.change(screen.getByTestId('theme-select'), { target: { value: 'dark' } });
  await settle();
  assert.equal(document.documentElement.dataset['theme'], 'dark');
  assert.ok(h.fake.calls.some((c) => c.method === 'updateSettings' && (c.input as { theme: string }).theme === 'dark'));
});

test('the Runs badge counts active runs', async () => {
  const h = await setup();
  h.render(<App />);
  assert.equal(screen.queryByTestId('nav-runs-active'), null);
  await act(async () => {
    await h.store.getState().startRun(FAKE_SMALL_EXPERIMENT);
  });
  assert.equal(screen.getByTestId('nav-runs-active').textContent, '1');
});

test('Reports exports a run in each format and hands the file to the saver', async () => {
  const h = await setup({ seedRuns: [{ name: 'seeded', experiment: FAKE_SMALL_EXPERIMENT }] });
  const saved: ExportedFile[] = [];
  h.render(<ReportsScreen save={(f) => saved.push(f)} />);
  await settle();
  for (const f of ['html', 'pdf', 'csv', 'json']) {
    fireEvent.click(screen.getByTestId(`report-export-${f}`));
    await settle();
  }
  assert.deepEqual(
    saved.map((f) => f.fileName),
    ['seeded.html', 'seeded.pdf', 'seeded.csv', 'seeded.json'],
  );
  assert.match(screen.getByTestId('report-saved').textContent ?? '', /seeded\.json/);
  // The PDF travels as base64 and is decoded to its bytes.
  const pdf = saved[1];
  assert.ok(pdf);
  const bytes = new Uint8Array(await exportedFileBlob(pdf).arrayBuffer());
  assert.equal(new TextDecoder().decode(bytes.slice(0, 8)), '%PDF-1.4');
  const csv = saved[2];
  assert.equal(csv?.data.trim().split('\n').length, 1 + 60);
});

test('downloadFile saves through a temporary <a download> with a Blob URL', async () => {
  const { downloadFile } = await import('../../renderer/src/util/download.ts');
  const clicked: { download: string; href: string }[] = [];
  const onClick = (e: Event) => {
    const a = e.target as HTMLAnchorElement;
    clicked.push({ download: a.download, href: a.href });
    e.preventDefault();
  };
  document.addEventListener('click', onClick);
  try {
    const blob = downloadFile({ fileName: 'r.csv', mimeType: 'text/csv', encoding: 'utf8', data: 'a,b\n1,2\n' });
    assert.equal(await blob.text(), 'a,b\n1,2\n');
    assert.equal(blob.type, 'text/csv');
  } finally {
    document.removeEventListener('click', onClick);
  }
  assert.equal(clicked.length, 1);
  assert.equal(clicked[0]?.download, 'r.csv');
  assert.match(clicked[0]?.href ?? '', /^blob:/);
  assert.equal(document.querySelectorAll('a[download]').length, 0, 'the anchor is removed');
});
