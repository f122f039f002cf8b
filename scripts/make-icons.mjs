#!/usr/bin/env node
// Every icon the installers need, from ONE source image: build/icons/icon.svg.
//
//   node scripts/make-icons.mjs      (after editing icon.svg; commit what it writes)
//
// Writes into build/icons/:
//   16x16.png … 1024x1024.png   Linux (electron-builder's linux.icon takes the folder), and the sources of the two below
//   icon.png                    1024×1024, for anything that wants one file
//   icon.ico                    Windows (exe, NSIS installer): 16, 24, 32, 48 as 32-bit BMP entries, 64, 128, 256 as PNG
//   icon.icns                   macOS: PNG entries from 16 to 1024 (icp4 … ic14)
//   icons.json                  the source's sha256 and each output's, so a test can tell icon.svg changed without a re-run
//
// Rendering uses rsvg-convert (Debian's librsvg2-bin) at development time only: the outputs are committed,
// so CI and `npm run dist` need no image tool. ImageMagick and png2icns/icotool are not assumed (they are
// not on the project's machines, and electron-builder's own icon conversion downloads a toolset), so the
// .ico and .icns containers are written here: both are a small directory of PNG (or BMP) images.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

const DIR = join(import.meta.dirname, '..', 'build', 'icons');
const SOURCE = join(DIR, 'icon.svg');
const SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];

function rsvgVersion() {
  try {
    return execFileSync('rsvg-convert', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    console.error('make-icons: rsvg-convert not found. On Debian/Ubuntu: apt-get install librsvg2-bin (macOS: brew install librsvg)');
    process.exit(1);
  }
}

/** Decodes an 8-bit RGBA, non-interlaced PNG (what rsvg-convert writes) into raw RGBA rows. */
function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || colour !== 6 || interlace !== 0) throw new Error(`unsupported PNG (depth ${depth}, colour type ${colour}, interlace ${interlace})`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? out.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= 4 ? row[i - 4] : 0;
      const b = prev[i];
      const c = i >= 4 ? prev[i - 4] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      row[i] = v & 0xff;
    }
  }
  return { width, height, rgba: out };
}

/** A 32-bit BMP icon entry (BITMAPINFOHEADER, bottom-up BGRA, then the 1-bit AND mask): what every Windows icon reader takes. */
function bmpEntry(png) {
  const { width: w, height: h, rgba } = decodePng(png);
  const maskStride = Math.ceil(w / 32) * 4;
  const header = Buffer.alloc(40);
  header.writeUInt32LE(40, 0);
  header.writeInt32LE(w, 4);
  header.writeInt32LE(h * 2, 8); // XOR image + AND mask
  header.writeUInt16LE(1, 12);
  header.writeUInt16LE(32, 14);
  header.writeUInt32LE(w * h * 4 + maskStride * h, 20);
  const pixels = Buffer.alloc(w * h * 4);
  const mask = Buffer.alloc(maskStride * h);
  for (let y = 0; y < h; y++) {
    const src = (h - 1 - y) * w * 4;
    for (let x = 0; x < w; x++) {
      const s = src + x * 4;
      const d = (y * w + x) * 4;
      pixels[d] = rgba[s + 2];
      pixels[d + 1] = rgba[s + 1];
      pixels[d + 2] = rgba[s];
      pixels[d + 3] = rgba[s + 3];
      if (rgba[s + 3] === 0) mask[y * maskStride + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return Buffer.concat([header, pixels, mask]);
}

function writeIco(pngBySize, sizes) {
  const images = sizes.map((s) => ({ size: s, data: s <= 48 ? bmpEntry(pngBySize.get(s)) : pngBySize.get(s) }));
  const dir = Buffer.alloc(6 + 16 * images.length);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2);
  dir.writeUInt16LE(images.length, 4);
  let offset = dir.length;
  images.forEach(({ size, data }, i) => {
    const e = 6 + 16 * i;
    dir[e] = size >= 256 ? 0 : size;
    dir[e + 1] = size >= 256 ? 0 : size;
    dir.writeUInt16LE(1, e + 4);
    dir.writeUInt16LE(32, e + 6);
    dir.writeUInt32LE(data.length, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += data.length;
  });
  return Buffer.concat([dir, ...images.map((i) => i.data)]);
}

/** ICNS: 'icns' + length, then (type, length, PNG) entries. Types per Apple's icns format (PNG payloads, macOS 10.7+). */
const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['icp6', 64],
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024], // 512@2x
  ['ic11', 32], // 16@2x
  ['ic12', 64], // 32@2x
  ['ic13', 256], // 128@2x
  ['ic14', 512], // 256@2x
];

function writeIcns(pngBySize) {
  const entries = ICNS_TYPES.map(([type, size]) => {
    const png = pngBySize.get(size);
    const head = Buffer.alloc(8);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([head, png]);
  });
  const body = Buffer.concat(entries);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

const version = rsvgVersion();
const tmp = mkdtempSync(join(tmpdir(), 'kvlab-icons-'));
try {
  const pngBySize = new Map();
  for (const s of SIZES) {
    const out = join(tmp, `${s}.png`);
    execFileSync('rsvg-convert', ['-w', String(s), '-h', String(s), '-o', out, SOURCE]);
    pngBySize.set(s, readFileSync(out));
  }
  const files = new Map();
  for (const s of SIZES) files.set(`${s}x${s}.png`, pngBySize.get(s));
  files.set('icon.png', pngBySize.get(1024));
  files.set('icon.ico', writeIco(pngBySize, [16, 24, 32, 48, 64, 128, 256]));
  files.set('icon.icns', writeIcns(pngBySize));
  for (const [name, data] of files) writeFileSync(join(DIR, name), data);
  const manifest = {
    source: 'icon.svg',
    sourceSha256: sha256(readFileSync(SOURCE)),
    generator: `scripts/make-icons.mjs with ${version}`,
    files: Object.fromEntries([...files].map(([name, data]) => [name, sha256(data)])),
  };
  writeFileSync(join(DIR, 'icons.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`make-icons: wrote ${files.size} files and icons.json to ${DIR}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
