-- The per-store knowledge base the AI replies draw on: documents and FAQ entries, their chunks
-- with a full-text vector in the store's language and an embedding, hybrid search, embed jobs.
--
-- Design notes (why it looks like this):
-- • One FAQ entry is one kb_documents row of kind 'faq' carrying question and answer, and exactly
--   one chunk "Q: …\nA: …", built by a trigger. Keeping the FAQ on the document (rather than a
--   kb_faqs side table) means one table, one set of policies and one cascade for everything an
--   admin manages, and an FAQ is created or edited with a single insert/update (also through
--   PostgREST) — the trigger keeps its chunk and embed job in step.
-- • Chunks hold a vector(1536). Models with fewer dimensions are zero-padded to 1536: padding
--   changes neither dot products nor norms, so cosine distance is unchanged, and one column and
--   one HNSW index serve any configured dimension ≤ 1536. Vectors are only ever compared with
--   vectors of the same embedding_model (kb_search filters on it).
-- • kb_settings.language is text, validated by casting to regconfig, not a regconfig column:
--   pg_upgrade refuses tables with reg* columns other than regclass/regtype/regrole, and hosted
--   Supabase upgrades with pg_upgrade.
-- • The store filter is an index condition on both search legs: the full-text leg uses a
--   btree_gin index on (store_id, fts); the vector leg an exact scan through (store_id,
--   embedding_model). A store has thousands of chunks, exact cosine over them costs a few ms and
--   has perfect recall, whereas HNSW with the store as a post-filter loses recall (with 50
--   stores, 49 of 50 neighbours it visits belong to someone else). bench:retrieval measures both.
--   The HNSW index is kept for large stores and ad-hoc queries across stores.

-- ═══ extensions ══════════════════════════════════════════════════════════════════════════════
-- btree_gin lets a GIN index carry the uuid store_id next to the tsvector.
create extension if not exists btree_gin with schema extensions;

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create table public.kb_settings (
  store_id uuid primary key references public.stores (id) on delete cascade,
  language text not null default 'english'
    constraint kb_settings_language_format check (language ~ '^[a-z_]+(\.[a-z_]+)?$'),
  embedding_model text constraint kb_settings_embedding_model_length check (char_length(embedding_model) between 1 and 200),
  embedding_dimensions integer
    constraint kb_settings_embedding_dimensions_range check (embedding_dimensions between 1 and 1536),
  updated_at timestamptz not null default now()
);
comment on table public.kb_settings is
  'Per store: the text-search configuration its chunks are indexed in, and the embedding model (null = deployment default) its vectors must match.';

create table public.kb_documents (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id) on delete cascade,
  kind text not null default 'document' constraint kb_documents_kind_values check (kind in ('document', 'faq')),
  title text not null constraint kb_documents_title_length check (char_length(title) between 1 and 500),
  source_name text not null default 'admin'
    constraint kb_documents_source_name_length check (char_length(source_name) between 1 and 500),
  mime_type text not null default 'text/plain',
  content_sha256 text not null constraint kb_documents_content_sha256_format check (content_sha256 ~ '^[0-9a-f]{64}$'),
  question text constraint kb_documents_question_length check (char_length(question) between 1 and 2000),
  answer text constraint kb_documents_answer_length check (char_length(answer) between 1 and 20000),
  status text not null default 'pending' constraint kb_documents_status_values check (status in ('pending', 'ready', 'failed')),
  error text,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Re-adding the same file (or the same FAQ) is a no-op that returns the first document.
  constraint kb_documents_store_content_unique unique (store_id, content_sha256),
  -- Lets chunks reference (store_id, id) so a chunk can never sit in another store than its document.
  constraint kb_documents_store_id_id_unique unique (store_id, id),
  -- An FAQ entry has both a question and an answer; a file has neither.
  constraint kb_documents_faq_fields check (
    case when kind = 'faq' then question is not null and answer is not null else question is null and answer is null end)
);
comment on table public.kb_documents is
  'A knowledge-base source of a store: an uploaded file (kind document) or one FAQ entry (kind faq, question + answer).';

create table public.kb_chunks (
  id bigint generated always as identity primary key,
  store_id uuid not null,
  document_id uuid not null,
  -- Copied from the document by the trigger so the kinds filter needs no join in the search legs.
  kind text not null default 'document',
  ordinal integer not null constraint kb_chunks_ordinal_positive check (ordinal >= 0),
  heading_path text not null default '',
  content text not null constraint kb_chunks_content_length check (char_length(content) between 1 and 20000),
  token_count integer not null constraint kb_chunks_token_count_positive check (token_count >= 0),
  fts tsvector not null default ''::tsvector,
  embedding extensions.vector(1536),
  embedding_model text,
  created_at timestamptz not null default now(),
  constraint kb_chunks_document_fk foreign key (store_id, document_id)
    references public.kb_documents (store_id, id) on delete cascade,
  constraint kb_chunks_document_ordinal_unique unique (document_id, ordinal),
  constraint kb_chunks_embedding_has_model check ((embedding is null) = (embedding_model is null))
);
-- The exact per-store vector scan reads every vector of the store: a 1536-wide vector is 6 KB,
-- which TOAST would otherwise split into three out-of-line pieces fetched through the TOAST index
-- (measured: 16 ms → 6 ms for 2,000 vectors with PLAIN). The text columns are MAIN (compressed,
-- inline while the row fits the page) so the full-text leg does not chase TOAST pointers either.
alter table public.kb_chunks
  alter column embedding set storage plain,
  alter column content set storage main,
  alter column fts set storage main,
  alter column heading_path set storage main;
comment on table public.kb_chunks is
  'Searchable pieces of a document (~350 tokens, overlapping): fts in the store''s language, embedding zero-padded to 1536.';

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- Full-text leg: the store and the tsquery are both index conditions of one bitmap scan. A GIN
-- index serves a condition on any of its columns, so no separate GIN on fts alone is needed.
create index kb_chunks_store_fts_idx on public.kb_chunks using gin (store_id, fts);
-- Vector leg: the exact per-store scan reads only this store's chunks of the query's model.
create index kb_chunks_store_model_idx on public.kb_chunks (store_id, embedding_model);
-- Approximate search for large stores / cross-store queries (pgvector ≥ 0.8 iterative scans).
create index kb_chunks_embedding_hnsw_idx on public.kb_chunks
  using hnsw (embedding extensions.vector_cosine_ops) where embedding is not null;
create index kb_chunks_document_idx on public.kb_chunks (document_id, ordinal);
create index kb_documents_store_kind_idx on public.kb_documents (store_id, kind, created_at desc);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The text-search configuration of a store's chunks and queries; 'english' until configured.
-- Both ingestion (the chunk trigger) and kb_search call it so a chunk and a query are always
-- stemmed the same way. security definer so a query still knows the language under RLS.
create function public.kb_store_language(p_store_id uuid)
returns regconfig
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select s.language from public.kb_settings s where s.store_id = p_store_id), 'english')::regconfig
$$;
comment on function public.kb_store_language(uuid) is 'The text-search configuration of a store''s knowledge base.';

-- The tsquery a customer's question becomes. Questions are natural language: AND-ing every word
-- (websearch_to_tsquery's plain form) would demand that one chunk contain "long", "refund" and
-- "take", so plain words are OR-ed and ts_rank_cd rewards chunks that match more of them. Explicit
-- web-search syntax (quotes, -word, or) is kept exactly as written.
create function public.kb_tsquery(p_store_id uuid, p_query text)
returns tsquery
language sql
stable
set search_path = ''
as $$
  select case
    when coalesce(p_query, '') ~* '"|(^|\s)-|\mor\M' then websearch_to_tsquery(public.kb_store_language(p_store_id), coalesce(p_query, ''))
    else replace(websearch_to_tsquery(public.kb_store_language(p_store_id), coalesce(p_query, ''))::text, ' & ', ' | ')::tsquery
  end
$$;
comment on function public.kb_tsquery(uuid, text) is 'A question as a tsquery in the store''s language, its words OR-ed.';

-- The searchable text of a chunk: its heading path weighs more than its body, so "Returns >
-- Refunds" ranks a chunk under that heading above one that merely mentions a refund.
create function public.kb_chunk_tsvector(p_language regconfig, p_heading_path text, p_content text)
returns tsvector
language sql
immutable
parallel safe
set search_path = ''
as $$
  select setweight(to_tsvector(p_language, coalesce(p_heading_path, '')), 'A')
      || setweight(to_tsvector(p_language, coalesce(p_content, '')), 'B')
$$;

-- Fills fts in the store's language and the document's kind on every write of a chunk's text,
-- so callers never compute either (and cannot get them wrong).
create function private.kb_chunks_before_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  select d.kind into new.kind from public.kb_documents d where d.id = new.document_id;
  new.fts := public.kb_chunk_tsvector(public.kb_store_language(new.store_id), new.heading_path, new.content);
  return new;
end
$$;

create trigger kb_chunks_before_write before insert or update of content, heading_path, fts on public.kb_chunks
  for each row execute function private.kb_chunks_before_write();

-- Queues embedding of one document's chunks. The key names the document, the store's model and
-- the content hash, so the trigger and ingestion may both call it and an edited FAQ (new hash)
-- still gets a fresh job; the handler only embeds chunks whose model differs, so a re-run is free.
create function private.kb_enqueue_embed(p_document_id uuid)
returns bigint
language sql
set search_path = ''
as $$
  select private.enqueue_job(
    'kb.embed_document',
    jsonb_build_object('store_id', d.store_id, 'document_id', d.id),
    format('kb.embed_document:%s:%s:%s', d.id, coalesce(s.embedding_model, 'default'), d.content_sha256),
    d.store_id)
  from public.kb_documents d
  left join public.kb_settings s on s.store_id = d.store_id
  where d.id = p_document_id
$$;

-- Queues re-embedding of every document of a store whose chunks do not all carry the store's
-- configured model (all documents when the store follows the deployment default, which SQL
-- cannot see; the handler skips chunks already embedded with it). Private: the service role
-- (CLI, jobs) calls it directly; admins go through kb_request_reembed, which checks and audits.
create function private.kb_enqueue_reembed(p_store_id uuid)
returns integer
language sql
set search_path = ''
as $$
  with target as (
    select (select s.embedding_model from public.kb_settings s where s.store_id = p_store_id) as model
  ), stale as (
    select d.id, d.store_id
    from public.kb_documents d, target t
    where d.store_id = p_store_id
      and exists (
        select 1 from public.kb_chunks c
        where c.store_id = d.store_id and c.document_id = d.id
          and (t.model is null or c.embedding_model is distinct from t.model))
  ), queued as (
    select private.enqueue_job(
      'kb.embed_document',
      jsonb_build_object('store_id', st.store_id, 'document_id', st.id, 'reembed', true),
      format('kb.embed_document:%s:%s:reembed:%s', st.id, coalesce(t.model, 'default'),
             (extract(epoch from clock_timestamp()) * 1000)::bigint),
      st.store_id) as job_id
    from stale st, target t
  )
  select count(*)::integer from queued
$$;

-- What a store admin's "re-embed everything" button calls: checked with the same helper as the
-- admin functions, audited, then the private enqueue above. Returns the number of jobs queued.
create function public.kb_request_reembed(p_store_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.can_administer_store(p_store_id) then
    raise exception 'not allowed to re-embed this store''s knowledge base' using errcode = 'insufficient_privilege';
  end if;
  perform private.audit('kb.reembed', format('store:%s', p_store_id));
  return private.kb_enqueue_reembed(p_store_id);
end
$$;
comment on function public.kb_request_reembed(uuid) is
  'Store admins: queue re-embedding of chunks that do not match the store''s embedding model.';

-- FAQ entries are derived in the database so an insert or update (API, PostgREST or CLI) is all
-- it takes: the hash, default title and source follow from question and answer.
create function private.kb_documents_before_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.kind = 'faq' and new.question is not null and new.answer is not null then
    new.question := btrim(new.question);
    new.answer := btrim(new.answer);
    new.content_sha256 := encode(extensions.digest(format(E'Q: %s\nA: %s', new.question, new.answer), 'sha256'), 'hex');
    new.title := coalesce(nullif(btrim(new.title), ''), left(new.question, 500));
    new.source_name := coalesce(new.source_name, 'admin');
    new.mime_type := coalesce(new.mime_type, 'text/plain');
    if tg_op = 'UPDATE' and (new.question, new.answer) is distinct from (old.question, old.answer) then
      new.status := 'pending';
      new.error := null;
    end if;
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := now();
  end if;
  return new;
end
$$;

create trigger kb_documents_before_write before insert or update on public.kb_documents
  for each row execute function private.kb_documents_before_write();

-- One FAQ = one chunk "Q: …\nA: …", rebuilt when the question or answer changes, then embedded.
-- security definer: an admin may edit FAQs, but chunks and jobs are written by the system only.
create function private.kb_faq_after_write()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  body text := format(E'Q: %s\nA: %s', new.question, new.answer);
begin
  delete from public.kb_chunks c where c.document_id = new.id;
  insert into public.kb_chunks (store_id, document_id, ordinal, heading_path, content, token_count)
  values (new.store_id, new.id, 0, '', body, ceil(char_length(body) / 4.0)::integer);
  perform private.kb_enqueue_embed(new.id);
  return null;
end
$$;

create trigger kb_faq_after_insert after insert on public.kb_documents
  for each row when (new.kind = 'faq') execute function private.kb_faq_after_write();
create trigger kb_faq_after_update after update of question, answer on public.kb_documents
  for each row when (new.kind = 'faq' and (new.question, new.answer) is distinct from (old.question, old.answer))
  execute function private.kb_faq_after_write();

-- A new language re-indexes the store's chunks (the chunk trigger recomputes fts on update of
-- content); a new model or dimension queues re-embedding. security definer for the same reason
-- as above: admins change settings, the system rewrites chunks.
create function private.kb_settings_after_write()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform new.language::regconfig; -- an unknown configuration fails the write here, not a search later
  if tg_op = 'INSERT' or new.language is distinct from old.language then
    -- Rows locked in id order, as the embed job locks them: two multi-row updates never deadlock.
    perform 1 from public.kb_chunks c where c.store_id = new.store_id order by c.id for update;
    update public.kb_chunks c set content = c.content where c.store_id = new.store_id;
  end if;
  if tg_op = 'UPDATE' and (new.embedding_model, new.embedding_dimensions)
                          is distinct from (old.embedding_model, old.embedding_dimensions) then
    perform private.kb_enqueue_reembed(new.store_id);
  end if;
  return null;
end
$$;

create trigger kb_settings_touch_updated_at before update on public.kb_settings
  for each row execute function public.touch_updated_at();
create trigger kb_settings_after_write after insert or update on public.kb_settings
  for each row execute function private.kb_settings_after_write();

-- Whether the caller may read a store's knowledge: API roles (with JWT claims) when they are its
-- members or platform administrators; backend connections without claims (jobs, the CLI) always.
-- kb_search checks it explicitly instead of relying on RLS, because under RLS Postgres will not
-- push the non-leakproof `@@` and `<=>` operators into index scans (measured: p50 ~250 ms instead
-- of ~13 ms at 100k chunks).
create function public.kb_caller_may_read(p_store_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select auth.role()), 'service_role') not in ('authenticated', 'anon')
      or p_store_id in (select public.authorized_store_ids('viewer'))
      or (select public.is_platform_admin())
$$;

-- Hybrid retrieval for one store: reciprocal-rank fusion (constant 60) of a full-text leg
-- (websearch syntax in the store's language, ts_rank_cd) and a vector leg (cosine distance among
-- chunks embedded with the query's model), each taking 4·k candidates. Either leg may be empty:
-- no embedding (offline mode) → full-text only; a query without lexemes → vector only.
-- security definer with an explicit check (kb_caller_may_read, in both legs): a store the caller
-- is not a member of yields nothing. The vector leg orders by distance cast to real, which no index provides, so the
-- planner keeps the exact scan through (store_id, embedding_model) instead of an HNSW scan
-- with the store as a post-filter (see the header and bench:retrieval). The leg markers are
-- read by supabase/tests/07-knowledge-base.sql, which EXPLAINs each leg as written here.
create function public.kb_search(
  p_store_id uuid,
  p_query text,
  p_query_embedding extensions.vector(1536) default null,
  p_k integer default 5,
  p_kinds text[] default null,
  p_embedding_model text default null
) returns table (
  chunk_id bigint,
  document_id uuid,
  kind text,
  title text,
  heading_path text,
  content text,
  fts_rank integer,
  fts_score real,
  vector_rank integer,
  vector_distance real,
  rrf_score double precision
)
language sql
stable
security definer
set search_path = ''
as $$
  with fts_leg as (
    select l.id, row_number() over (order by l.score desc, l.id)::integer as rank, l.score
    from (
      /* fts leg */
      select c.id, ts_rank_cd(c.fts, q.tsq)::real as score
      from public.kb_chunks c,
           (select public.kb_tsquery(p_store_id, p_query) as tsq offset 0) q -- offset 0: built once, not per row
      where c.store_id = p_store_id
        and (select public.kb_caller_may_read(p_store_id))
        and c.fts @@ q.tsq
        and numnode(q.tsq) > 0
        and (p_kinds is null or c.kind = any (p_kinds))
      order by score desc, c.id
      limit 4 * least(greatest(p_k, 1), 50)
      /* end fts leg */
    ) l
  ), vector_leg as (
    select l.id, row_number() over (order by l.distance, l.id)::integer as rank, l.distance
    from (
      /* vector leg */
      select c.id, (c.embedding operator(extensions.<=>) p_query_embedding)::real as distance
      from public.kb_chunks c
      where c.store_id = p_store_id
        and (select public.kb_caller_may_read(p_store_id))
        and c.embedding_model = coalesce(p_embedding_model,
              (select s.embedding_model from public.kb_settings s where s.store_id = p_store_id))
        and p_query_embedding is not null
        and (p_kinds is null or c.kind = any (p_kinds))
      order by distance, c.id
      limit 4 * least(greatest(p_k, 1), 50)
      /* end vector leg */
    ) l
  ), fused as (
    select coalesce(f.id, v.id) as id, f.rank as fts_rank, f.score as fts_score, v.rank as vector_rank,
           v.distance as vector_distance,
           coalesce(1.0 / (60 + f.rank), 0) + coalesce(1.0 / (60 + v.rank), 0) as rrf_score
    from fts_leg f full join vector_leg v on v.id = f.id
  )
  select c.id, c.document_id, c.kind, d.title, c.heading_path, c.content, u.fts_rank, u.fts_score, u.vector_rank,
         u.vector_distance, u.rrf_score::double precision
  from fused u
  join public.kb_chunks c on c.id = u.id
  join public.kb_documents d on d.id = c.document_id
  order by u.rrf_score desc, c.id
  limit least(greatest(p_k, 1), 50)
$$;
comment on function public.kb_search(uuid, text, extensions.vector, integer, text[], text) is
  'Top-k chunks of one store by reciprocal-rank fusion of full-text and vector search; only for its members (kb_caller_may_read).';

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
alter table public.kb_settings enable row level security;
alter table public.kb_documents enable row level security;
alter table public.kb_chunks enable row level security;

-- kb_settings: members read (search needs the language); store admins and platform
-- administrators configure. Deleting the row returns a store to the defaults.
create policy "Store members can read their store's knowledge settings" on public.kb_settings
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read all knowledge settings" on public.kb_settings
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can create their store's knowledge settings" on public.kb_settings
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's knowledge settings" on public.kb_settings
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can reset their store's knowledge settings" on public.kb_settings
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')));
create policy "Platform administrators can create knowledge settings" on public.kb_settings
  for insert to authenticated with check ((select public.is_platform_admin()));
create policy "Platform administrators can change knowledge settings" on public.kb_settings
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));
create policy "Platform administrators can reset knowledge settings" on public.kb_settings
  for delete to authenticated using ((select public.is_platform_admin()));

-- kb_documents: members read; store admins and platform administrators add (FAQ entries — files
-- are parsed server-side), edit (title, question, answer only: column grants below) and delete.
create policy "Store members can read their store's knowledge documents" on public.kb_documents
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every knowledge document" on public.kb_documents
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can add knowledge documents to their store" on public.kb_documents
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can edit their store's knowledge documents" on public.kb_documents
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can delete their store's knowledge documents" on public.kb_documents
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')));
create policy "Platform administrators can add knowledge documents" on public.kb_documents
  for insert to authenticated with check ((select public.is_platform_admin()));
create policy "Platform administrators can edit every knowledge document" on public.kb_documents
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));
create policy "Platform administrators can delete every knowledge document" on public.kb_documents
  for delete to authenticated using ((select public.is_platform_admin()));

-- kb_chunks: read-only for API roles. Chunks are written by ingestion and the embed jobs
-- (service role) and by the FAQ trigger; insert, update and delete policies are deliberately
-- absent, and deleting a document removes its chunks by cascade.
create policy "Store members can read their store's knowledge chunks" on public.kb_chunks
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every knowledge chunk" on public.kb_chunks
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.kb_settings, public.kb_documents, public.kb_chunks from anon;
revoke insert, update, delete, truncate on public.kb_chunks from authenticated;
revoke update, truncate on public.kb_documents from authenticated;
grant update (title, question, answer) on public.kb_documents to authenticated;
revoke truncate on public.kb_settings from authenticated;

revoke execute on function public.kb_search(uuid, text, extensions.vector, integer, text[], text),
  public.kb_request_reembed(uuid), public.kb_store_language(uuid), public.kb_tsquery(uuid, text),
  public.kb_chunk_tsvector(regconfig, text, text), public.kb_caller_may_read(uuid) from public, anon;
grant execute on function public.kb_search(uuid, text, extensions.vector, integer, text[], text),
  public.kb_request_reembed(uuid), public.kb_store_language(uuid), public.kb_tsquery(uuid, text),
  public.kb_chunk_tsvector(regconfig, text, text), public.kb_caller_may_read(uuid) to authenticated, service_role;

revoke execute on function private.kb_chunks_before_write(), private.kb_enqueue_embed(uuid),
  private.kb_enqueue_reembed(uuid), private.kb_documents_before_write(), private.kb_faq_after_write(),
  private.kb_settings_after_write() from public, anon, authenticated;
grant execute on function private.kb_enqueue_embed(uuid), private.kb_enqueue_reembed(uuid) to service_role;
