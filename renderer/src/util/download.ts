/**
 * Saves an `ExportedFile` (what exportReport returns, and what the charts'
 * PNG export produces) through the browser's download path: a Blob URL on a
 * temporary <a download>. The same code works in Electron (the session's
 * will-download handler shows the save dialog) and in serve mode, and needs
 * no file-system access in the renderer.
 */
import type { ExportedFile } from '@kvlab/core';

/** The file's bytes: UTF-8 text as is, base64 decoded to binary. */
export function exportedFileBlob(file: ExportedFile): Blob {
  if (file.encoding === 'utf8') return new Blob([file.data], { type: file.mimeType });
  const bin = atob(file.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: file.mimeType });
}

/** Starts a download of `file` under its own name. Returns the Blob (tests inspect it). */
export function downloadFile(file: ExportedFile, doc: Document = document): Blob {
  const blob = exportedFileBlob(file);
  const url = URL.createObjectURL(blob);
  const a = doc.createElement('a');
  a.href = url;
  a.download = file.fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  doc.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke after the click has been handled; revoking synchronously can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}
