import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type GpuContext, requestGpu } from '../gpu/device.js';

/**
 * requestGpu() for command-line tools and services, without the native noise. Dawn (the
 * `webgpu` package) and the Vulkan drivers under it write straight to file descriptor 2 while
 * they look for adapters: `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`
 * (Mesa's device-select layer, probing for a Wayland display) and warnings about drivers Dawn
 * turns down (`Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.` from lavapipe).
 * Node cannot redirect a native library's stderr, so:
 *
 * 1. XDG_RUNTIME_DIR, when unset or not an absolute path (the only check that message makes),
 *    is pointed at a private directory of this user's (0700, under the temp directory)
 *    before Dawn loads: the probe then finds no display, quietly.
 * 2. Whether there is an adapter at all is first asked in a short child process whose stderr
 *    is kept away from ours. Only when it found one is Dawn loaded here (requestGpu), so a
 *    machine without a GPU never loads it and prints nothing; one with a GPU gets the same
 *    context as before.
 *
 * The probe costs one process start (about 0.2 s), paid once per process.
 */
export interface QuietGpu {
  /** The process-wide GPU context, or null. */
  readonly gpu: GpuContext | null;
  /** Why there is none, as one line for the user ('no WebGPU adapter found', ...); null when there is one. */
  readonly reason: string | null;
  /** What Dawn printed during the probe (for WEBANNOLO_DEBUG=1). */
  readonly probeStderr: string;
}

let probed: Promise<QuietGpu> | null = null;

/** The GPU context, found without Dawn's stderr noise (see QuietGpu). Cached per process. */
export function requestGpuQuietly(options: { probeTimeoutMs?: number } = {}): Promise<QuietGpu> {
  probed ??= (async () => {
    ensureRuntimeDir();
    const probe = await probeAdapter(options.probeTimeoutMs ?? 30_000);
    if (probe.reason !== null) return { gpu: null, reason: probe.reason, probeStderr: probe.stderr };
    const gpu = await requestGpu();
    return { gpu, reason: gpu === null ? 'no WebGPU adapter found' : null, probeStderr: probe.stderr };
  })();
  return probed;
}

/** Points XDG_RUNTIME_DIR at a private directory when it is unset or relative (see QuietGpu). */
export function ensureRuntimeDir(): void {
  const current = process.env['XDG_RUNTIME_DIR'];
  if (current?.startsWith('/')) return;
  process.env['XDG_RUNTIME_DIR'] = privateRuntimeDir();
}

/** `<tmp>/webannolo-runtime-<uid>`, this user's with mode 0700 (a fresh one when that name is someone else's). */
function privateRuntimeDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = join(tmpdir(), `webannolo-runtime-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // Exists already (or cannot be made): checked below.
  }
  try {
    const st = lstatSync(dir);
    if (st.isDirectory() && !st.isSymbolicLink() && st.uid === uid && (st.mode & 0o077) === 0) return dir;
  } catch {
    // Fall through to a fresh one.
  }
  return mkdtempSync(join(tmpdir(), 'webannolo-runtime-'));
}

/** The `webgpu` package's entry as a file URL, or null when it is not installed. */
function webgpuEntry(): string | null {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return null;
  }
}

/** Asks a child process whether Dawn finds an adapter; its stderr (Dawn's noise) is captured, never shown. */
function probeAdapter(timeoutMs: number): Promise<{ reason: string | null; stderr: string }> {
  const entry = webgpuEntry();
  if (entry === null) return Promise.resolve({ reason: 'no WebGPU adapter found (the webgpu package is not installed)', stderr: '' });
  const script = [
    `const { create } = await import(${JSON.stringify(entry)});`,
    "const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });",
    "process.stdout.write(JSON.stringify({ found: adapter !== null && adapter !== undefined }) + '\\n');",
    // Dawn may hold the event loop open: the answer is out, so leave.
    'process.exit(0);',
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ reason: `no WebGPU adapter found (the probe could not start: ${error.message})`, stderr });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let found = false;
      try {
        found = (JSON.parse(stdout.trim().split('\n').pop() ?? '') as { found?: unknown }).found === true;
      } catch {
        const how = signal !== null ? `was ended by ${signal}` : `exited with code ${code}`;
        resolve({ reason: `no WebGPU adapter found (the adapter probe ${how})`, stderr });
        return;
      }
      resolve({ reason: found ? null : 'no WebGPU adapter found', stderr });
    });
  });
}
