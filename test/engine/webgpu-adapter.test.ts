/**
 * Reading the WebGPU adapter (electron/engine/webgpu-adapter.ts): the Vulkan
 * loader's device list as it prints it, which device Dawn takes, and which
 * names are software rasterisers. The probe itself runs in the WebGPU group
 * (test/engine/webgpu/).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adapterFromDevices, adapterFromMappedDrivers, isSoftwareAdapterName, parseVulkanDevices } from '../../electron/engine/webgpu-adapter.ts';

// Verbatim (trimmed) from chromium's libvulkan.so.1 with VK_LOADER_DEBUG=driver and SwiftShader's ICD.
const SWIFTSHADER_LOG = `[Vulkan Loader] DRIVER:         Found ICD manifest file /usr/lib/chromium/vk_swiftshader_icd.json, version 1.0.0
[Vulkan Loader] INFO | DRIVER:  linux_read_sorted_physical_devices:
[Vulkan Loader] INFO | DRIVER:       Original order:
[Vulkan Loader] INFO | DRIVER:             [0] SwiftShader Device (Subzero)
[Vulkan Loader] INFO | DRIVER:       Sorted order:
[Vulkan Loader] INFO | DRIVER:             [0] SwiftShader Device (Subzero)  
[Vulkan Loader] DEBUG | DRIVER: Copying old device 0 into new device 0
`;
const TWO_DEVICES = `[Vulkan Loader] INFO | DRIVER:       Sorted order:
[Vulkan Loader] INFO | DRIVER:             [0] llvmpipe (LLVM 15.0.6, 256 bits)
[Vulkan Loader] INFO | DRIVER:             [1] AMD Radeon RX 7900 XTX (RADV NAVI31)
[Vulkan Loader] DRIVER:         vkCreateDevice layer callstack setup to:
`;

describe('webgpu adapter', () => {
  it('reads the last sorted device list of the loader log', () => {
    assert.deepEqual(parseVulkanDevices(SWIFTSHADER_LOG), ['SwiftShader Device (Subzero)']);
    assert.deepEqual(parseVulkanDevices(TWO_DEVICES), ['llvmpipe (LLVM 15.0.6, 256 bits)', 'AMD Radeon RX 7900 XTX (RADV NAVI31)']);
    assert.deepEqual(parseVulkanDevices('no loader output\n'), []);
  });

  it('a SwiftShader-only machine has a software adapter', () => {
    assert.deepEqual(adapterFromDevices(['SwiftShader Device (Subzero)'], 'linux'), {
      name: 'SwiftShader Device (Subzero)',
      backend: 'vulkan',
      software: true,
      source: 'Vulkan loader device list (SwiftShader Device (Subzero))',
    });
  });

  it('a hardware device beside a software one is the adapter (high-performance preference)', () => {
    const a = adapterFromDevices(parseVulkanDevices(TWO_DEVICES), 'linux');
    assert.equal(a.name, 'AMD Radeon RX 7900 XTX (RADV NAVI31)');
    assert.equal(a.software, false);
  });

  it('without a device list: Metal is hardware, D3D12 unknown (WARP is possible)', () => {
    assert.equal(adapterFromDevices([], 'darwin').software, false);
    assert.equal(adapterFromDevices([], 'darwin').backend, 'metal');
    assert.equal(adapterFromDevices([], 'win32').software, null);
    assert.equal(adapterFromDevices([], 'win32').backend, 'd3d12');
  });

  it('knows the software rasterisers by name', () => {
    for (const n of ['SwiftShader Device (Subzero)', 'SwiftShader Device (LLVM 10.0.0)', 'llvmpipe (LLVM 15.0.6, 256 bits)', 'Microsoft Basic Render Driver'])
      assert.ok(isSoftwareAdapterName(n), n);
    for (const n of ['NVIDIA GeForce RTX 4090', 'Intel(R) Arc(tm) A770 Graphics (DG2)', 'Apple M2 Max', 'AMD Radeon RX 7900 XTX (RADV NAVI31)'])
      assert.ok(!isSoftwareAdapterName(n), n);
  });

  it('in-process (Electron): software only when every mapped Vulkan driver is a software one', () => {
    const drivers = ['libvk_swiftshader.so', 'libvulkan_lvp.so', 'libvulkan_radeon.so', 'libGLX_nvidia.so.0'];
    const maps = (...libs: string[]) => libs.map((l) => `7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x/${l}`).join('\n');
    assert.equal(adapterFromMappedDrivers(maps('libvk_swiftshader.so'), drivers).software, true);
    assert.equal(adapterFromMappedDrivers(maps('libvulkan_lvp.so', 'libvk_swiftshader.so'), drivers).software, true);
    assert.equal(adapterFromMappedDrivers(maps('libvk_swiftshader.so', 'libGLX_nvidia.so.0'), drivers).software, false);
    assert.equal(adapterFromMappedDrivers(maps('libc.so.6'), drivers).software, null);
  });
});
