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

export type Enum<T extends keyof Database["public"]["Enums"]> = Database["public"]["Enums"][T];
export type PrivateEnum<T extends keyof Database["private"]["Enums"]> = Database["private"]["Enums"][T];

/** A row as postgres.js returns it: the generated types describe JSON, but postgres.js parses
 * timestamptz, timestamp and date columns (`D`) into Date objects and returns int8 and numeric
 * columns (`S`) as strings (they may not fit a JS number). Only existing columns can be named. */
export type Fetched<R, D extends keyof R = never, S extends keyof R = never> =
  & { [K in Exclude<keyof R, D | S>]: R[K] }
  & { [K in D]: Date | Extract<R[K], null> }
  & { [K in S]: string | Extract<R[K], null> };
