/**
 * GPU setup (on the Models screen): which onnxruntime execution provider the
 * engine runs on, which others this installation could use and why not, a
 * switch to request one, and how to get CUDA.
 *
 * Everything it shows comes from getAppInfo, i.e. from the engine's machine
 * (in serve mode that may not be the browser's): electron/host/
 * execution-providers.ts reports what onnxruntime-node was built with and
 * which provider libraries are on disk, and a provider that was requested but
 * failed to start carries the engine's fallback reason. Requesting one saves
 * the setting (updateSettings); the engine applies it when it next loads a
 * model, falling back to CPU with a reason if the provider cannot start.
 */
import { useState } from 'react';
import type { AppInfo, ExecutionProviderChoice } from '@kvlab/core';
import { isExecutionProviderChoice } from '@kvlab/core';
import { useLab, useLabApi } from '../store/index.ts';

const LABELS: Readonly<Record<string, string>> = {
  auto: 'Automatic (CUDA, else a hardware WebGPU adapter, else CPU)',
  cpu: 'CPU',
  webgpu: 'WebGPU (any GPU: Vulkan, D3D12, Metal)',
  cuda: 'CUDA (NVIDIA, Linux)',
  dml: 'DirectML (Windows GPUs)',
  coreml: 'Core ML (Apple)',
};
const label = (id: string): string => LABELS[id] ?? id;

export function GpuSetupPanel() {
  const appInfo = useLab((s) => s.appInfo);
  const settings = useLab((s) => s.settings);
  if (!appInfo || !settings) return null;
  return (
    <section className="card gpu-setup" data-testid="gpu-setup" aria-labelledby="gpu-setup-title">
      <h2 id="gpu-setup-title">GPU setup</h2>
      <ActiveProvider appInfo={appInfo} requested={settings.executionProvider} />
      <ProviderTable providers={appInfo.executionProviders} />
      <ProviderPicker providers={appInfo.executionProviders} requested={settings.executionProvider} />
      <GpuHowTo />
    </section>
  );
}

type Providers = AppInfo['executionProviders'];

/** What the engine runs on, on which adapter, and why it is not what was requested. */
function ActiveProvider({ appInfo, requested }: { appInfo: AppInfo; requested: ExecutionProviderChoice }) {
  const active = appInfo.executionProvider;
  const requestedInfo = appInfo.executionProviders.find((p) => p.id === requested);
  return (
    <p>
      Running on <strong data-testid="gpu-active">{label(active)}</strong>
      {appInfo.adapter ? (
        <span data-testid="gpu-adapter">
          {' '}
          on {appInfo.adapter.name ?? 'an unnamed adapter'} ({appInfo.adapter.backend}
          {appInfo.adapter.software === true ? ', a software adapter: not a GPU, timings are no speed claim' : ''})
        </span>
      ) : null}
      {appInfo.executionProviderReason ? (
        <span className="hint" data-testid="gpu-reason">
          {' '}
          — {appInfo.executionProviderReason}
        </span>
      ) : null}
      {requested !== active && requested !== 'auto' ? (
        <span className="hint" data-testid="gpu-fallback">
          {' '}
          — {label(requested)} was requested but is unavailable{requestedInfo?.reason ? `: ${requestedInfo.reason}` : ''}
        </span>
      ) : null}
    </p>
  );
}

/** Every provider this installation knows, available or why not. */
function ProviderTable({ providers }: { providers: Providers }) {
  return (
    <table className="table small" data-testid="gpu-providers">
      <thead>
        <tr>
          <th>Provider</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {providers.map((p) => (
          <tr key={p.id} data-testid={`gpu-provider-${p.id}`} data-available={p.available}>
            <td>{label(p.id)}</td>
            <td>{p.available ? <span className="tag tag-ok">available</span> : <span className="muted">unavailable{p.reason ? `: ${p.reason}` : ''}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The provider to request (saved as a setting; the engine applies it at the next model load) and "Check again". */
function ProviderPicker({ providers, requested }: { providers: Providers; requested: ExecutionProviderChoice }) {
  const api = useLabApi();
  const loadSettings = useLab((s) => s.loadSettings);
  const reportError = useLab((s) => s.reportError);
  const [busy, setBusy] = useState(false);
  const request = async (executionProvider: ExecutionProviderChoice) => {
    setBusy(true);
    try {
      await api.updateSettings({ executionProvider });
      await loadSettings();
    } catch (e) {
      reportError(e, 'changing the execution provider');
    } finally {
      setBusy(false);
    }
  };
  const recheck = async () => {
    setBusy(true);
    await loadSettings();
    setBusy(false);
  };
  return (
    <div className="row gap">
      <label>
        Run models on{' '}
        <select
          value={requested}
          disabled={busy}
          data-testid="gpu-select"
          onChange={(e) => {
            if (isExecutionProviderChoice(e.target.value)) void request(e.target.value);
          }}
        >
          <option value="auto">{label('auto')}</option>
          {providers
            .filter((p) => isExecutionProviderChoice(p.id))
            .map((p) => (
              <option key={p.id} value={p.id} disabled={!p.available && p.id !== requested}>
                {label(p.id)}
                {p.available ? '' : ' (unavailable)'}
              </option>
            ))}
        </select>
      </label>
      <button type="button" disabled={busy} data-testid="gpu-recheck" onClick={() => void recheck()}>
        Check again
      </button>
    </div>
  );
}

/** How to get each platform's GPU provider. */
function GpuHowTo() {
  return (
    <details data-testid="gpu-howto">
      <summary>How to get GPU inference</summary>
      <ul className="small">
        <li>
          <strong>Linux with an NVIDIA GPU</strong>: install the NVIDIA driver, the CUDA 12 runtime and cuDNN 9, then in a KV Lab checkout run{' '}
          <code>npm run setup:gpu</code> (it downloads onnxruntime&apos;s CUDA provider and checks that a CUDA session starts). For an installed app, add{' '}
          <code>-- --app &lt;the app&apos;s folder&gt;</code> to copy the provider into it. Restart KV Lab, press <em>Check again</em> and choose CUDA.
        </li>
        <li>
          <strong>Any GPU with a current driver</strong>: WebGPU is bundled (Vulkan on Linux x64, D3D12 on Windows, Metal on macOS); nothing to install.
          Automatic uses it when the adapter is a real GPU, never a software one (SwiftShader).
        </li>
        <li>
          <strong>Windows</strong>: onnxruntime&apos;s Windows build has no CUDA provider; DirectML is bundled and uses any DirectX 12 GPU (NVIDIA, AMD, Intel).
        </li>
        <li>
          <strong>macOS</strong>: Core ML is bundled (Apple silicon).
        </li>
      </ul>
      <p className="muted small">
        A provider that fails to start (a missing library, no device) falls back to the CPU; the reason shows above once a model has been loaded.
      </p>
    </details>
  );
}
