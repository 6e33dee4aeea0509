// `npm run eval:<name>`: evaluations of product quality on shipped sample data (eval/). Each prints its
// figures, saves them under .local/eval/ and exits 0 once it ran: they inform, they never gate CI.

import { evalAi } from "./ai.ts";

const evals: Record<string, (args: string[]) => Promise<number>> = { ai: evalAi };

const [name, ...args] = Deno.args;
if (!evals[name]) {
  console.error(`usage: eval.ts <${Object.keys(evals).join("|")}> [args…]`);
  Deno.exit(2);
}
Deno.exit(await evals[name](args));
