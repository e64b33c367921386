/**
 * Real files with injected I/O faults, for a writer's `openFile` option: a file handle whose named methods are
 * replaced (each is handed the real handle and the call's arguments); every other method is the real one.
 */
import { type FileHandle, open } from "node:fs/promises";

type Method = "write" | "sync" | "close";
type Replacement = (real: FileHandle, args: unknown[]) => Promise<unknown>;

export function withFaults(fh: FileHandle, replaced: Partial<Record<Method, Replacement>>): FileHandle {
  return new Proxy(fh, {
    get(target, prop) {
      const own = replaced[prop as Method];
      if (own !== undefined) return (...args: unknown[]) => own(target, args);
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** The real `write` with the arguments it was called with. */
export function realWrite(fh: FileHandle, args: unknown[]): Promise<unknown> {
  return (fh.write as (...a: unknown[]) => Promise<unknown>).apply(fh, args);
}

/** A write refused as by a full disk. */
export function diskFull(): Promise<never> {
  return Promise.reject(
    Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }),
  );
}

/**
 * Real files whose next fsync, once `gate.armed` (and on a path `holds` accepts), waits until the test calls
 * `gate.release`: a slow network file system.
 */
export function heldFsync(holds: (path: string) => boolean = () => true) {
  const gate: { armed: boolean; release: (() => void) | null } = { armed: false, release: null };
  const openFile = async (path: string, flags: string): Promise<FileHandle> =>
    withFaults(await open(path, flags), {
      sync: async (real) => {
        if (gate.armed && holds(path)) {
          gate.armed = false;
          await new Promise<void>((r) => (gate.release = r));
        }
        return real.sync();
      },
    });
  /** Resolves once an fsync is being held. */
  const held = async () => {
    while (gate.release === null) await new Promise((r) => setTimeout(r, 1));
  };
  return { gate, openFile, held };
}
