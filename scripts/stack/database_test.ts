// The local database across a restart: every `npm start` re-runs the bootstrap and the migrations,
// and that must change no privilege, default privilege, owner or role the migrations left behind.

import assert from "node:assert/strict";
import postgres from "postgres";
import { applyBootstrap, applyMigrations } from "./database.ts";
import { testStack } from "../testing/env.ts";

/** Every grant outside the system schemas and extensions' own objects, the default privileges,
 * owners, and the roles with their attributes, settings and memberships: one sorted text row each. */
const SNAPSHOT = `
  with ext as (select objid from pg_depend where deptype = 'e'),
  spaces as (select oid, nspname from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'),
  acls as (
    select 'schema ' || s.nspname as object, s.oid as owner_oid, n.nspacl as acl
      from spaces s join pg_namespace n on n.oid = s.oid
    union all
    select 'relation ' || s.nspname || '.' || c.relname, c.relowner, c.relacl
      from pg_class c join spaces s on s.oid = c.relnamespace where c.oid not in (select objid from ext)
    union all
    select 'column ' || s.nspname || '.' || c.relname || '.' || a.attname, null, a.attacl
      from pg_attribute a join pg_class c on c.oid = a.attrelid join spaces s on s.oid = c.relnamespace
     where a.attacl is not null
    union all
    select 'function ' || s.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')', p.proowner, p.proacl
      from pg_proc p join spaces s on s.oid = p.pronamespace where p.oid not in (select objid from ext)
    union all
    select 'default ' || d.defaclrole::regrole || ' ' || coalesce(d.defaclnamespace::regnamespace::text, '*') || ' ' ||
           d.defaclobjtype::text, null, d.defaclacl
      from pg_default_acl d
    union all
    select 'database ' || datname, datdba, datacl from pg_database where datname = current_database()
  )
  select object || ' owner=' || coalesce(owner_oid::regrole::text, '-') || ' ' ||
         coalesce((select string_agg(coalesce(nullif(x.grantee, 0)::regrole::text, 'PUBLIC') || ':' || x.privilege_type ||
                                     case when x.is_grantable then '*' else '' end, ',' order by 1)
                     from aclexplode(acl) x), 'default') as row
    from acls
  union all
  select 'role ' || rolname || ' ' || (rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
         rolbypassrls)::text || ' ' || coalesce(array_to_string(rolconfig, ';'), '') || ' member of ' ||
         coalesce((select string_agg(m.roleid::regrole::text, ',' order by 1) from pg_auth_members m where m.member = r.oid), '')
    from pg_roles r where rolname !~ '^pg_'
  order by 1`;

Deno.test("a restart (bootstrap and migrations re-run) leaves every privilege as the migrations set it", async () => {
  const { dbUrl } = testStack();
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const snapshot = async () => (await sql.unsafe(SNAPSHOT)).map((r) => r.row as string);
  try {
    const before = await snapshot();
    // What the migrations set is in the snapshot: anon holds nothing on any project table, so
    // the comparison below is not between two equally wide-open states.
    const anonTables = before.filter((r) => /^relation (public|private)\./.test(r) && /(^| |,)anon:/.test(r));
    assert.deepEqual(anonTables, []);
    assert.ok(before.some((r) => r.startsWith("relation public.stores ") && r.includes("authenticated:SELECT")));

    await applyBootstrap(dbUrl);
    await applyMigrations(dbUrl);
    assert.deepEqual(await snapshot(), before);
  } finally {
    await sql.end();
  }
});
