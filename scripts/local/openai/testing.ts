// Test helpers: a stand-in on a free port and the real `openai` SDK pointed at it, plus the control API calls
// (scripted responses, recorded requests) tests use to steer it.

import OpenAI, { type ClientOptions } from "openai";
import type { z } from "zod";
import type { ScriptedResponse } from "./scripted_responses.ts";
import { type RunningOpenAiStandin, startOpenAiStandin, type StartOptions } from "./server.ts";
import { freePort } from "../kit/ports.ts";

export interface TestStandin extends RunningOpenAiStandin {
  /** An SDK client with the stand-in's key and base URL (no retries unless asked). */
  openai(extra?: ClientOptions): OpenAI;
  /** Pushes scripted responses through POST /_control/faults. */
  script(...scripts: ScriptInput[]): Promise<void>;
}

/** What POST /_control/faults accepts (defaults such as `times` may be left out). */
export type ScriptInput = z.input<typeof ScriptedResponse>;

export { freePort };

export async function startTestStandin(opts: Partial<StartOptions> = {}): Promise<TestStandin> {
  const running = await startOpenAiStandin({ port: freePort(), ...opts });
  return {
    ...running,
    openai: (extra = {}) => new OpenAI({ apiKey: running.apiKey, baseURL: running.baseURL, maxRetries: 0, ...extra }),
    script: async (...scripts) => {
      const res = await fetch(`${running.url}/_control/faults`, {
        method: "POST",
        headers: { authorization: `Bearer ${running.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ faults: scripts }),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`scripting the stand-in failed: ${res.status} ${text}`);
    },
  };
}

/** Runs `fn` against a fresh stand-in, then closes it. */
export async function withStandin(fn: (standin: TestStandin) => Promise<void>): Promise<void> {
  const standin = await startTestStandin();
  try {
    await fn(standin);
  } finally {
    await standin.close();
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail, but it succeeded");
}
