// The optional state file: loads a snapshot at start, and rewrites it (debounced, atomically) after changes
// so a restarted sandbox keeps its accounts, tokens and conversations.

import { dirname } from "node:path";
import { type JsonObject, SandboxState } from "./state.ts";

export async function loadState(path: string): Promise<SandboxState | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return SandboxState.fromSnapshot(JSON.parse(text) as JsonObject);
}

export class StateFile {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly snapshot: () => JsonObject,
    private readonly debounceMs = 200,
  ) {}

  /** Marks the state changed; the file is written once things are quiet for `debounceMs`. */
  changed(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.debounceMs);
  }

  /** Writes now if anything changed since the last write. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (!this.#dirty) return this.#writing;
    this.#dirty = false;
    const text = JSON.stringify(this.snapshot());
    this.#writing = this.#writing.then(async () => {
      await Deno.mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.tmp`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, this.path);
    });
    return this.#writing;
  }
}
