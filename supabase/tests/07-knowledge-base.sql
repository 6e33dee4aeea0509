-- The knowledge base: RLS on every table with policies named as sentences; a member of store A
-- reads only A's settings, documents and chunks ("nobody else can see me"), outsiders and anon see
-- nothing; only admins write documents and settings, nobody writes chunks through the API; FAQ
-- entries build their one chunk and embed job; kb_search returns only the given store's chunks,
-- nothing for a store the caller is not a member of, fuses the legs by reciprocal rank, stems in the
-- store's language, and keeps the store filter an index condition on both legs.
begin;
\ir _helpers.psql
select plan(62);

-- ── helpers (as postgres; rolled back with everything else) ─────────────────────────────────
-- A 1536-wide vector from its first three components (the rest zero, as padding would leave it).
create function tests.kb_vec(a real, b real, c real) returns extensions.vector language sql immutable as $$
  select (array[a, b, c] || array_fill(0::real, array[1533]))::extensions.vector
$$;
create function tests.kb_count(p_table text, p_store uuid default null) returns integer language plpgsql as $$
declare
  r integer;
begin
  execute format('select count(*)::int from public.%I where %L::uuid is null or store_id = %L::uuid', p_table, p_store, p_store)
    into r;
  return r;
end
$$;
-- Rows a statement touched (0 when RLS hides them).
create function tests.kb_rows(p_sql text) returns integer language plpgsql as $$
declare
  n integer;
begin
  execute p_sql;
  get diagnostics n = row_count;
  return n;
end
$$;
-- EXPLAIN of one leg of kb_search exactly as the function's source spells it (between its
-- "/* fts leg */" markers), parameters in place of the arguments, planned generically like a
-- SQL function body is.
create function tests.kb_leg_plan(p_leg text) returns text language plpgsql as $$
declare
  src text;
  leg text;
  plan text := '';
  r record;
begin
  select p.prosrc into src from pg_proc p
   where p.oid = 'public.kb_search(uuid, text, extensions.vector, integer, text[], text)'::regprocedure;
  leg := substring(src from '/\* ' || p_leg || ' leg \*/(.*)/\* end ' || p_leg || ' leg \*/');
  leg := regexp_replace(leg, '\mp_store_id\M', '$1', 'g');
  leg := regexp_replace(leg, '\mp_query\M', '$2', 'g');
  leg := regexp_replace(leg, '\mp_query_embedding\M', '$3', 'g');
  leg := regexp_replace(leg, '\mp_k\M', '$4', 'g');
  leg := regexp_replace(leg, '\mp_kinds\M', '$5', 'g');
  leg := regexp_replace(leg, '\mp_embedding_model\M', '$6', 'g');
  execute 'prepare kb_leg(uuid, text, extensions.vector, integer, text[], text) as ' || leg;
  perform set_config('plan_cache_mode', 'force_generic_plan', true);
  perform set_config('enable_seqscan', 'off', true); -- the fixture is tiny; the bench shows the same plan at 100k rows
  for r in execute format('explain (costs off) execute kb_leg(%L, %L, %L, 5, null, %L)',
                          gen_random_uuid(), 'shipping', tests.kb_vec(1, 0, 0), 'tap-model') loop
    plan := plan || r."QUERY PLAN" || E'\n';
  end loop;
  deallocate kb_leg;
  perform set_config('plan_cache_mode', 'auto', true);
  perform set_config('enable_seqscan', 'on', true);
  return plan;
end
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('viewer_a', tests.create_user('kb-viewer-a@t.test')),
  ('admin_a', tests.create_user('kb-admin-a@t.test')),
  ('owner_b', tests.create_user('kb-owner-b@t.test')),
  ('outsider', tests.create_user('kb-outsider@t.test')),
  ('platform', tests.create_user('kb-platform@t.test', true));
insert into stores (slug, name) values ('tap-kb-store-a', 'KB Store A'), ('tap-kb-store-b', 'KB Store B');
insert into ids select 'store_a', id from stores where slug = 'tap-kb-store-a';
insert into ids select 'store_b', id from stores where slug = 'tap-kb-store-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a'), 'viewer'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a'), 'admin'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
insert into kb_settings (store_id, language, embedding_model) values
  ((select v from ids where k = 'store_a'), 'english', 'tap-model'),
  ((select v from ids where k = 'store_b'), 'portuguese', 'tap-model');

-- Store A: one document with three chunks for the RRF fixture. Chunk 1 matches the words best but
-- has no embedding; chunk 2 matches the words less well and is second nearest; chunk 3 has no
-- matching words and is nearest. Store B: one chunk that would match everything.
insert into kb_documents (id, store_id, title, source_name, mime_type, content_sha256) values
  ('00000000-0000-4000-8000-0000000000a1', (select v from ids where k = 'store_a'), 'Shipping guide', 'shipping.md',
   'text/markdown', repeat('a', 64)),
  ('00000000-0000-4000-8000-0000000000b1', (select v from ids where k = 'store_b'), 'Guia de entregas', 'entregas.md',
   'text/markdown', repeat('b', 64));
insert into kb_chunks (store_id, document_id, ordinal, heading_path, content, token_count, embedding, embedding_model)
overriding system value
values
  ((select v from ids where k = 'store_a'), '00000000-0000-4000-8000-0000000000a1', 0, 'Shipping > International',
   'International shipping: shipping to Europe takes five days; shipping to Asia takes nine.', 20, null, null),
  ((select v from ids where k = 'store_a'), '00000000-0000-4000-8000-0000000000a1', 1, 'Shipping',
   'Parcels are tracked; shipping costs are shown at checkout.', 15, tests.kb_vec(0.8, 0.6, 0), 'tap-model'),
  ((select v from ids where k = 'store_a'), '00000000-0000-4000-8000-0000000000a1', 2, 'Returns',
   'Returns are free within thirty days.', 10, tests.kb_vec(1, 0.05, 0), 'tap-model'),
  ((select v from ids where k = 'store_b'), '00000000-0000-4000-8000-0000000000b1', 0, 'Entregas',
   'As entregas internacionais (shipping) demoram cinco dias.', 12, tests.kb_vec(1, 0, 0), 'tap-model');
create temp table chunk_ids as
  select ordinal, id from kb_chunks where document_id = '00000000-0000-4000-8000-0000000000a1';
grant select on chunk_ids to anon, authenticated;

-- ── schema and policies ──────────────────────────────────────────────────────────────────────
select ok((select bool_and(relrowsecurity) from pg_class where oid in
  ('public.kb_settings'::regclass, 'public.kb_documents'::regclass, 'public.kb_chunks'::regclass)),
  'RLS is enabled on every knowledge table');
select policies_are('public', 'kb_settings', array[
  'Store members and platform admins can read knowledge settings',
  'Store admins and platform admins can create knowledge settings',
  'Store admins and platform admins can change knowledge settings',
  'Store admins and platform admins can reset knowledge settings'], 'kb_settings has exactly its named policies');
select policies_are('public', 'kb_documents', array[
  'Store members and platform admins can read knowledge documents',
  'Store admins and platform admins can add knowledge documents',
  'Store admins and platform admins can edit knowledge documents',
  'Store admins and platform admins can delete knowledge documents'], 'kb_documents has exactly its named policies');
select policies_are('public', 'kb_chunks', array[
  'Store members and platform admins can read knowledge chunks'], 'kb_chunks has read policies only');
select indexes_are('public', 'kb_chunks', array['kb_chunks_pkey', 'kb_chunks_store_fts_idx', 'kb_chunks_store_model_idx',
  'kb_chunks_embedding_hnsw_idx', 'kb_chunks_document_store_idx', 'kb_chunks_document_ordinal_unique'],
  'kb_chunks has the store-leading search indexes and the HNSW index');
select is((select count(*)::int from kb_chunks where fts = ''::tsvector), 0, 'every chunk got its fts from the trigger');
select is((select kind from kb_chunks where document_id = '00000000-0000-4000-8000-0000000000a1' limit 1), 'document',
  'chunks carry their document''s kind');
select throws_ok($$ insert into kb_settings (store_id, language) values ((select v from ids where k = 'outsider'), 'english') $$,
  '23503', null, 'settings need a store');
select throws_ok($$ update kb_settings set language = 'klingon' where store_id = (select v from ids where k = 'store_a') $$,
  '42704', null, 'an unknown text-search language is refused when set, not at search time');

-- ── the query plan: the store filter is an index condition on both legs ────────────────────
-- On this tiny fixture the planner may prefer the btree's store prefix to the GIN scan (at 100k
-- chunks bench:retrieval prints the GIN bitmap scan); either way the store is an index condition.
select matches(tests.kb_leg_plan('fts'), '(Index|Recheck) Cond: \(+store_id = \$1',
  'full-text leg: the store is an index condition');
select matches(tests.kb_leg_plan('fts'), 'fts @@', 'full-text leg: the tsquery filters the store''s chunks');
select matches(tests.kb_leg_plan('vector'),
  'Index Scan using kb_chunks_store_model_idx on kb_chunks c\s+Index Cond: \(\(store_id = \$1\) AND \(embedding_model = ',
  'vector leg: an exact scan of the store''s chunks of the model, store and model as index conditions');
select doesnt_match(tests.kb_leg_plan('vector'), 'hnsw', 'vector leg does not post-filter an HNSW scan');

-- ── store A's viewer ────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'viewer_a'));
select is(tests.kb_count('kb_chunks'), 3, 'a viewer of A reads A''s three chunks');
select is(tests.kb_count('kb_chunks', (select v from ids where k = 'store_b')), 0, 'a viewer of A reads none of B''s chunks');
select is(tests.kb_count('kb_documents', (select v from ids where k = 'store_b')), 0, 'a viewer of A reads none of B''s documents');
select is(tests.kb_count('kb_settings'), 1, 'a viewer of A reads only A''s settings');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_b'), 'shipping', tests.kb_vec(1, 0, 0), 5)), 0,
  'kb_search for a store the caller is not a member of returns nothing');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping')), 2,
  'kb_search full-text only (no embedding) finds A''s two chunks about shipping');
select results_eq(
  $$ select chunk_id from kb_search((select v from ids where k = 'store_a'), 'shipping', tests.kb_vec(1, 0, 0), 5) $$,
  $$ select id from chunk_ids order by case ordinal when 1 then 0 when 0 then 1 else 2 end $$,
  'RRF: the chunk in both legs first, then the best of each single leg (ties by id)');
select results_eq(
  $$ select fts_rank, vector_rank, round(rrf_score::numeric, 6)
     from kb_search((select v from ids where k = 'store_a'), 'shipping', tests.kb_vec(1, 0, 0), 5) $$,
  $$ values (2, 2, round(2.0 / 62, 6)), (1, null, round(1.0 / 61, 6)), (null, 1, round(1.0 / 61, 6)) $$,
  'RRF scores are 1/(60 + rank) summed over the legs');
select is((select fts_score > 0 and vector_distance is null from kb_search((select v from ids where k = 'store_a'), 'shipping',
  tests.kb_vec(1, 0, 0), 5) where fts_rank = 1), true, 'each leg reports its own score');
select results_eq(
  $$ select chunk_id from kb_search((select v from ids where k = 'store_a'), 'the of', tests.kb_vec(1, 0, 0), 5) $$,
  $$ select id from chunk_ids where ordinal in (2, 1) order by ordinal desc $$,
  'a query without lexemes uses the vector leg alone');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping', tests.kb_vec(1, 0, 0), 5,
  null, 'another-model') where vector_rank is not null), 0, 'vectors of another model are never compared');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'how long does shipping to Europe take?')), 2,
  'a question matches chunks holding only some of its words (words are OR-ed)');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), '"shipping to Europe" -asia')), 0,
  'explicit web-search syntax is kept as written');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping', null, 5, array['faq'])), 0,
  'the kinds filter applies');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping', tests.kb_vec(1, 0, 0), 1)), 1,
  'k limits the result');
select throws_ok($$ insert into kb_documents (store_id, kind, question, answer)
  values ((select v from ids where k = 'store_a'), 'faq', 'Q?', 'A.') $$, '42501', null, 'a viewer cannot add an FAQ entry');
select throws_ok($$ insert into kb_chunks (store_id, document_id, ordinal, content, token_count)
  values ((select v from ids where k = 'store_a'), '00000000-0000-4000-8000-0000000000a1', 9, 'x', 1) $$, '42501', null,
  'nobody writes chunks through the API');
select throws_ok($$ select kb_request_reembed((select v from ids where k = 'store_a')) $$, '42501', null,
  'a viewer cannot request re-embedding');

-- ── store A's admin ─────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'admin_a'));
select lives_ok($$ insert into kb_documents (store_id, kind, question, answer)
  values ((select v from ids where k = 'store_a'), 'faq', 'Do you ship to Canada?', 'Yes, in seven days.') $$,
  'a store admin adds an FAQ entry');
select is((select content from kb_chunks where kind = 'faq'), E'Q: Do you ship to Canada?\nA: Yes, in seven days.',
  'the FAQ entry became one chunk "Q: …\nA: …"');
select is((select title from kb_documents where kind = 'faq'), 'Do you ship to Canada?', 'its title defaults to the question');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'canada', null, 5, array['faq'])), 1,
  'the FAQ entry is searchable at once');
select lives_ok($$ update kb_documents set answer = 'Yes, in five days.' where kind = 'faq' $$, 'a store admin edits an FAQ');
select is((select count(*)::int from kb_chunks where kind = 'faq' and content like '%five days.'), 1,
  'editing an FAQ rebuilds its single chunk');
select throws_ok($$ update kb_documents set status = 'ready' where kind = 'faq' $$, '42501', null,
  'status is the system''s: admins edit title, question and answer only');
select throws_ok($$ insert into kb_documents (store_id, kind, question, answer)
  values ((select v from ids where k = 'store_b'), 'faq', 'Sneaky?', 'Yes.') $$, '42501', null,
  'an admin of A cannot add to B');
select is(tests.kb_rows($$ update kb_settings set language = 'english' where store_id = (select v from ids where k = 'store_b') $$),
  0, 'an admin of A cannot change B''s settings');
select lives_ok($$ update kb_settings set embedding_model = 'tap-model-2' where store_id = (select v from ids where k = 'store_a') $$,
  'a store admin changes the embedding model');
select cmp_ok(kb_request_reembed((select v from ids where k = 'store_a')), '>=', 1, 'a store admin requests re-embedding');

-- ── others ──────────────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'outsider'));
select is(tests.kb_count('kb_chunks') + tests.kb_count('kb_documents') + tests.kb_count('kb_settings'), 0,
  'a user of no store sees no knowledge at all');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping', tests.kb_vec(1, 0, 0), 5)), 0,
  'kb_search returns nothing to a non-member');
select tests.act_as((select v from ids where k = 'owner_b'));
select is(tests.kb_count('kb_chunks', (select v from ids where k = 'store_a')), 0, 'B''s owner reads none of A''s chunks');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_b'), 'entregar')), 1,
  'B''s chunks are stemmed in Portuguese: "entregar" finds "entregas"');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping')), 0,
  'B''s owner searching A finds nothing');
select tests.act_as((select v from ids where k = 'platform'));
select is(tests.kb_count('kb_chunks', (select v from ids where k = 'store_a')) + tests.kb_count('kb_chunks', (select v from ids where k = 'store_b')),
  5, 'a platform administrator reads every store''s chunks');
select tests.act_as_anon();
select throws_ok($$ select count(*) from kb_chunks $$, '42501', null, 'anon cannot read chunks');
select throws_ok($$ select count(*) from kb_documents $$, '42501', null, 'anon cannot read documents');
select throws_ok($$ select * from kb_search((select v from ids where k = 'store_a'), 'shipping') $$, '42501', null,
  'anon cannot call kb_search');

-- ── jobs and language (as postgres) ─────────────────────────────────────────────────────────
select tests.act_as_postgres();
select is((select count(*)::int from private.jobs where kind = 'kb.embed_document'
           and payload ->> 'document_id' = (select id::text from kb_documents where kind = 'faq' and store_id = (select v from ids where k = 'store_a'))
           and payload ? 'reembed' is false), 2, 'adding and editing an FAQ each queued one embed job');
select ok((select count(*) from private.jobs where kind = 'kb.embed_document' and payload ->> 'reembed' = 'true'
           and store_id = (select v from ids where k = 'store_a')) >= 2,
  'changing the model and asking again queued re-embedding of the store''s documents');
select is((select count(*)::int from private.jobs where kind = 'kb.embed_document' and payload ->> 'reembed' = 'true'
           and store_id = (select v from ids where k = 'store_b')), 0, 'other stores are not re-embedded');
select is(private.kb_enqueue_embed('00000000-0000-4000-8000-0000000000b1'),
          private.kb_enqueue_embed('00000000-0000-4000-8000-0000000000b1'),
  'enqueuing the same document and model twice yields one job');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_b'), 'entregar')), 1,
  'the service side searches B in Portuguese too');
update kb_settings set language = 'simple' where store_id = (select v from ids where k = 'store_b');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_b'), 'entregar')), 0,
  'changing the language re-indexes the store''s chunks (no Portuguese stemming with simple)');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_b'), 'entregas')), 1,
  '… and the exact word still matches');
select throws_ok($$ insert into kb_chunks (store_id, document_id, ordinal, content, token_count)
  values ((select v from ids where k = 'store_b'), '00000000-0000-4000-8000-0000000000a1', 9, 'x', 1) $$, '23503', null,
  'a chunk cannot sit in another store than its document');
select throws_ok($$ insert into kb_documents (store_id, title, source_name, mime_type, content_sha256)
  values ((select v from ids where k = 'store_a'), 'Again', 'again.md', 'text/markdown', repeat('a', 64)) $$, '23505', null,
  'the same content cannot be added to a store twice');
select throws_ok($$ insert into kb_documents (store_id, kind, title, source_name, mime_type, content_sha256, question)
  values ((select v from ids where k = 'store_a'), 'document', 'Odd', 'odd.md', 'text/markdown', repeat('c', 64), 'Q?') $$,
  '23514', null, 'only FAQ entries carry a question and answer');
delete from kb_documents where id = '00000000-0000-4000-8000-0000000000a1';
select is(tests.kb_count('kb_chunks', (select v from ids where k = 'store_a')), 1, 'deleting a document deletes its chunks');

select * from finish();
rollback;
