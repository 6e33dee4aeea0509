// Row shapes of the database as the code reads and writes them, derived from the generated types
// (database.types.ts, `npm run gen:types`). A migration that renames or drops a column changes the
// generated types, and every use of the old name through these aliases stops type-checking.

import type { Database, Json } from "./database.types.ts";

export type { Json };

export type PublicTable = keyof Database["public"]["Tables"];
export type PrivateTable = keyof Database["private"]["Tables"];

/** A row of a public table, with the column types PostgREST's JSON would give. */
export type Row<T extends PublicTable> = Database["public"]["Tables"][T]["Row"];
export type Insert<T extends PublicTable> = Database["public"]["Tables"][T]["Insert"];
export type Update<T extends PublicTable> = Database["public"]["Tables"][T]["Update"];

/** A row of a private table (queue, secrets, ledger): never exposed through the API. */
export type PrivateRow<T extends PrivateTable> = Database["private"]["Tables"][T]["Row"];
export type PrivateInsert<T extends PrivateTable> = Database["private"]["Tables"][T]["Insert"];
export type PrivateUpdate<T extends PrivateTable> = Database["private"]["Tables"][T]["Update"];

export type Enum<T extends keyof Database["public"]["Enums"]> = Database["public"]["Enums"][T];
export type PrivateEnum<T extends keyof Database["private"]["Enums"]> = Database["private"]["Enums"][T];

type SetReturning<F> = F extends { Returns: (infer R)[] } ? R : never;
type PossiblyNull<R, N extends keyof R> = { [K in keyof R]: K extends N ? R[K] | null : R[K] };

/** One row of a set-returning public function (`returns table (…)`). The generator marks every
 * returned column not null, which it cannot know: name the columns that may be null (`N`). */
export type FunctionRow<
  F extends keyof Database["public"]["Functions"],
  N extends keyof SetReturning<Database["public"]["Functions"][F]> = never,
> = PossiblyNull<SetReturning<Database["public"]["Functions"][F]>, N>;
export type PrivateFunctionRow<
  F extends keyof Database["private"]["Functions"],
  N extends keyof SetReturning<Database["private"]["Functions"][F]> = never,
> = PossiblyNull<SetReturning<Database["private"]["Functions"][F]>, N>;

/** What a scalar function returns (bigint and numeric results arrive as strings: see `Fetched`). */
export type FunctionReturns<F extends keyof Database["public"]["Functions"]> =
  Database["public"]["Functions"][F]["Returns"];
export type PrivateFunctionReturns<F extends keyof Database["private"]["Functions"]> =
  Database["private"]["Functions"][F]["Returns"];

/** The columns of a left-joined table: every one null when no row matched. */
export type LeftJoined<R> = { [K in keyof R]: R[K] | null };

/** `R` with text columns narrowed to the values their check constraint allows (the generator sees only text). */
export type Constrained<R, C extends { [K in keyof C]: K extends keyof R ? R[K] : never }> = Omit<R, keyof C> & C;

/** A row as postgres.js returns it: the generated types describe JSON, but postgres.js parses
 * timestamptz, timestamp and date columns (`D`) into Date objects and returns int8 and numeric
 * columns (`S`) as strings (they may not fit a JS number). Only existing columns can be named. */
export type Fetched<R, D extends keyof R = never, S extends keyof R = never> = {
  [K in keyof R]: K extends D ? Date | Extract<R[K], null> : K extends S ? string | Extract<R[K], null> : R[K];
};
