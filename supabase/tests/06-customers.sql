-- Customers, orders and the contact sync's tables: RLS on each (a member of store A sees none of
-- B's rows, viewers cannot write, admins write only their own store, anon is refused), an order
-- cannot name another store's customer, aggregates and tiers follow the orders and cannot be
-- written by API roles, and the triggers: one coalesced sync job per customer and epoch, none
-- when auto sync is off, an erasure job carrying what erasure needs (no personal data), and the
-- back-sync of an agent's edit (echoes of our own writes change nothing).
begin;
\ir _helpers.psql
select plan(45);

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('viewer_a', tests.create_user('cu-viewer-a@t.test')),
  ('admin_a', tests.create_user('cu-admin-a@t.test')),
  ('admin_b', tests.create_user('cu-admin-b@t.test')),
  ('outsider', tests.create_user('cu-outsider@t.test')),
  ('platform', tests.create_user('cu-platform@t.test', true));
insert into stores (slug, name, chatwoot_provisioning) values
  ('tap-cu-a', 'Customers A', 'manual'), ('tap-cu-b', 'Customers B', 'manual'), ('tap-cu-off', 'Sync off', 'manual');
insert into ids select 'store_a', id from stores where slug = 'tap-cu-a';
insert into ids select 'store_b', id from stores where slug = 'tap-cu-b';
insert into ids select 'store_off', id from stores where slug = 'tap-cu-off';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a'), 'viewer'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a'), 'admin'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'admin_b'), 'admin');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id)
select v, 'https://customers-chat.example.com', row_number() over (order by k) + 60 from ids
where k in ('store_a', 'store_b', 'store_off');
insert into ids select 'acc_a', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_a');
insert into ids select 'acc_b', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_b');
insert into contact_sync_settings (store_id, auto_sync) values ((select v from ids where k = 'store_off'), false);
insert into customer_tiers (store_id, tier, min_lifetime_value, min_order_count) values
  ((select v from ids where k = 'store_a'), 'silver', 0, 0),
  ((select v from ids where k = 'store_a'), 'gold', 300, 2);
insert into customers (store_id, external_id, name, email, phone)
select v, 'c-' || k, 'Customer ' || k, k || '@cu.test', '+14155550111' from ids
where k in ('store_a', 'store_b', 'store_off');
insert into ids select 'cust_a', id from customers where external_id = 'c-store_a';
insert into ids select 'cust_b', id from customers where external_id = 'c-store_b';
insert into ids select 'cust_off', id from customers where external_id = 'c-store_off';
insert into orders (store_id, customer_id, amount, currency)
select (select v from ids where k = 'store_b'), (select v from ids where k = 'cust_b'), 10, 'USD';
insert into customer_contact_links (customer_id, store_id, account_ref, contact_id, linked_by, snapshot)
select c.v, s.v, a.v, 900 + row_number() over (order by c.k), 'created',
       jsonb_build_object('name', 'Customer ' || s.k, 'email', s.k || '@cu.test', 'phone_number', '+14155550111')
from ids c join ids s on (c.k, s.k) in (('cust_a', 'store_a'), ('cust_b', 'store_b'))
join ids a on (a.k) = replace(s.k, 'store', 'acc');
insert into contact_sync_conflicts (store_id, customer_id, account_ref, field, resolution, detail)
select s.v, c.v, a.v, 'email', 'omitted', 'fixture'
from ids c join ids s on (c.k, s.k) in (('cust_a', 'store_a'), ('cust_b', 'store_b'))
join ids a on (a.k) = replace(s.k, 'store', 'acc');

create function tests.cu_jobs(p_kind text, p_customer uuid) returns integer language sql as $$
  select count(*)::int from private.jobs where kind = p_kind and payload ->> 'customer_id' = p_customer::text
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ── RLS ──────────────────────────────────────────────────────────────────────────────────────
select ok(bool_and(c.relrowsecurity), 'RLS is enabled on every customer and contact sync table')
from pg_class c where c.oid in ('public.customer_settings'::regclass, 'public.customer_tiers'::regclass,
  'public.customers'::regclass, 'public.orders'::regclass, 'public.contact_sync_settings'::regclass,
  'public.customer_contact_links'::regclass, 'public.contact_sync_conflicts'::regclass);

select tests.act_as((select v from ids where k = 'viewer_a'));
select is((select count(*)::int from customers), 1, 'a viewer of store A sees only A''s customer');
select is((select count(*)::int from customers where store_id = (select v from ids where k = 'store_b')), 0,
          'a member of store A sees 0 of store B''s customers');
select is((select count(*)::int from orders), 0, 'and 0 of B''s orders');
select is((select count(*)::int from customer_contact_links), 1, 'A''s contact link only');
select is((select count(*)::int from contact_sync_conflicts), 1, 'A''s conflict only');
select is((select count(*)::int from customer_tiers), 2, 'A''s tiers');
select throws_ok($$ insert into customers (store_id, external_id) values ((select v from ids where k = 'store_a'), 'v-1') $$,
                 '42501', null, 'a viewer cannot add customers');
select is_empty($$ update customers set name = 'x' returning 1 $$, 'a viewer cannot change customers');
select is_empty($$ delete from customers returning 1 $$, 'a viewer cannot erase customers');

select tests.act_as((select v from ids where k = 'admin_a'));
select lives_ok($$ insert into customers (store_id, external_id, name, order_count, lifetime_value, tier)
                   values ((select v from ids where k = 'store_a'), 'a-2', 'Second', 99, 9999, 'gold') $$,
                'a store admin adds a customer');
select is((select (order_count, lifetime_value, tier)::text from customers where external_id = 'a-2'), '(0,0.00,silver)',
          'aggregates and tier written by an API role are ignored: they follow the orders');
select throws_ok($$ insert into customers (store_id, external_id) values ((select v from ids where k = 'store_b'), 'x-1') $$,
                 '42501', null, 'a store admin cannot add customers to another store');
select is_empty($$ update customers set name = 'hijack' where store_id = (select v from ids where k = 'store_b') returning 1 $$,
                'nor change another store''s customers');
select throws_ok($$ insert into orders (store_id, customer_id, amount, currency)
                    values ((select v from ids where k = 'store_a'), (select v from ids where k = 'cust_b'), 1, 'USD') $$,
                 '23503', null, 'an order cannot name another store''s customer');
select throws_ok($$ insert into customer_contact_links (customer_id, store_id, account_ref, contact_id, linked_by)
                    values ((select v from ids where k = 'cust_a'), (select v from ids where k = 'store_a'),
                            (select v from ids where k = 'acc_a'), 1, 'created') $$,
                 '42501', null, 'contact links are written only by the sync');
select throws_ok($$ update contact_sync_conflicts set detail = 'x' $$, '42501', null, 'conflicts are read-only for API roles');
select lives_ok($$ insert into contact_sync_settings (store_id, conflict_policy) values ((select v from ids where k = 'store_a'), 'merge') $$,
                'a store admin creates their sync settings');
select throws_ok($$ insert into contact_sync_settings (store_id) values ((select v from ids where k = 'store_b')) $$,
                 '42501', null, 'but not another store''s');

select tests.act_as((select v from ids where k = 'outsider'));
select is((select count(*)::int from customers), 0, 'a non-member sees no customers');
select tests.act_as((select v from ids where k = 'platform'));
select ok((select count(*) from customers) >= 3, 'a platform administrator sees every store''s customers');
select tests.act_as_anon();
select throws_ok($$ select count(*) from customers $$, '42501', null, 'anon is refused');
select tests.act_as_postgres();

-- ── aggregates and tiers ─────────────────────────────────────────────────────────────────────
insert into orders (store_id, customer_id, amount, currency, status, placed_at, external_id)
select (select v from ids where k = 'store_a'), (select v from ids where k = 'cust_a'), a, c, s, t, e
from (values (200, 'USD', 'paid', '2026-10-01'::timestamptz, 'o1'), (150, 'USD', 'fulfilled', '2026-11-01', 'o2'),
             (999, 'EUR', 'paid', '2026-09-01', 'o3'), (500, 'USD', 'pending', '2026-11-10', 'o4')) v(a, c, s, t, e);
select is((select (order_count, lifetime_value, last_order_at = '2026-11-01'::timestamptz, tier)::text
           from customers where id = (select v from ids where k = 'cust_a')),
          '(3,350.00,t,gold)', 'paid/fulfilled orders count; only the store currency adds to lifetime value; tier from thresholds');
update orders set status = 'refunded' where external_id = 'o2';
select is((select (order_count, lifetime_value, tier)::text from customers where id = (select v from ids where k = 'cust_a')),
          '(2,200.00,silver)', 'a refund recounts and lowers the tier');
update customer_tiers set min_lifetime_value = 100 where tier = 'gold' and store_id = (select v from ids where k = 'store_a');
select is((select tier from customers where id = (select v from ids where k = 'cust_a')), 'gold',
          'changing a store''s tiers re-tiers its customers');
delete from orders where store_id = (select v from ids where k = 'store_a');
select is((select (order_count, lifetime_value, last_order_at, tier)::text from customers
           where id = (select v from ids where k = 'cust_a')),
          '(0,0.00,,silver)', 'deleting orders recounts to zero');

-- ── sync jobs ────────────────────────────────────────────────────────────────────────────────
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_a')), 1,
          'inserting a customer and every change before its round share one job');
update customers set name = 'Renamed once' where id = (select v from ids where k = 'cust_a');
update customers set name = 'Renamed twice' where id = (select v from ids where k = 'cust_a');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_a')), 1,
          'more changes before the round starts: still one job');
update customers set contact_sync_epoch = contact_sync_epoch + 1 where id = (select v from ids where k = 'cust_a');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_a')), 1,
          'the round starting (epoch bump) enqueues nothing by itself');
update customers set email = 'new@cu.test' where id = (select v from ids where k = 'cust_a');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_a')), 2,
          'a change after the round started gets a job of its own');
update customers set updated_at = now() - interval '1 day' where id = (select v from ids where k = 'cust_a');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_a')), 2,
          'a change to nothing Chatwoot shows enqueues nothing');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_off')), 0,
          'no job when the store''s auto sync is off');
select ok((select run_at > now() from private.jobs where kind = 'chatwoot.contact_sync'
           and payload ->> 'customer_id' = (select v from ids where k = 'cust_b')::text),
          'a round waits the debounce window so a burst shares it');
select is((select count(*)::int from private.jobs where kind = 'chatwoot.contact_backfill'
           and store_id in (select v from ids where k like 'store_%')), 0,
          'linking an account with no customers yet needs no backfill');
insert into stores (slug, name, chatwoot_provisioning) values ('tap-cu-late', 'Late link', 'manual');
insert into customers (store_id, external_id) select id, 'late-1' from stores where slug = 'tap-cu-late';
select is(tests.cu_jobs('chatwoot.contact_sync', (select id from customers where external_id = 'late-1')), 0,
          'a store without a Chatwoot account queues no rounds');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id)
select id, 'https://customers-chat.example.com', 99 from stores where slug = 'tap-cu-late';
select is((select count(*)::int from private.jobs where kind = 'chatwoot.contact_backfill'
           and store_id = (select id from stores where slug = 'tap-cu-late')), 1,
          'linking its account queues one backfill of its customers');
select is(private.enqueue_store_contact_sync((select id from stores where slug = 'tap-cu-late')), 1,
          'which fans out one round per customer');

-- ── back-sync ────────────────────────────────────────────────────────────────────────────────
create function tests.cu_contact(p_name text, p_email text, p_phone text, p_version timestamptz) returns jsonb
language sql as $$
  select jsonb_build_object('contact', jsonb_build_object(
    'contact_id', (select contact_id from customer_contact_links where customer_id = (select v from ids where k = 'cust_b')),
    'name', p_name, 'email', p_email, 'phone_number', p_phone, 'identifier', 'c-store_b',
    'custom_attributes', '{}'::jsonb, 'additional_attributes', '{}'::jsonb, 'blocked', false,
    'source_updated_at', p_version))
$$;
select private.ingest_chatwoot_delivery((select v from ids where k = 'acc_b'), 'cu-echo', 'contact_updated',
  tests.cu_contact('Customer store_b', 'store_b@cu.test', '+14155550111', '2026-11-20T10:00:00Z'));
select is((select count(*)::int from private.audit_log where action = 'customer.agent_edit'), 0,
          'an echo of what we sent is not an agent''s edit');
update customer_contact_links set sending = '{"name": "Being sent"}'
 where customer_id = (select v from ids where k = 'cust_b');
select private.ingest_chatwoot_delivery((select v from ids where k = 'acc_b'), 'cu-inflight', 'contact_updated',
  tests.cu_contact('Being sent', 'store_b@cu.test', '+14155550111', '2026-11-20T10:01:00Z'));
select is((select count(*)::int from private.audit_log where action = 'customer.agent_edit'), 0,
          'nor is the echo of a write still in flight');
update customer_contact_links set sending = null where customer_id = (select v from ids where k = 'cust_b');
select private.ingest_chatwoot_delivery((select v from ids where k = 'acc_b'), 'cu-agent', 'contact_updated',
  tests.cu_contact('Bea Agent-Edited', 'store_b@cu.test', '+14155550199', '2026-11-20T10:02:00Z'));
select is((select (name, phone)::text from customers where id = (select v from ids where k = 'cust_b')),
          '("Bea Agent-Edited",+14155550199)', 'an agent''s edit of name and phone reaches the customer (policy apply)');
select is((select snapshot ->> 'name' from customer_contact_links where customer_id = (select v from ids where k = 'cust_b')),
          'Bea Agent-Edited', 'and the link''s snapshot');
select is((select detail -> 'fields' from private.audit_log where action = 'customer.agent_edit'),
          '["name", "phone_number"]'::jsonb, 'the audit names the fields, not their values');
select is(tests.cu_jobs('chatwoot.contact_sync', (select v from ids where k = 'cust_b')), 1,
          'the customer''s change rides the round already queued');

-- ── erasure ──────────────────────────────────────────────────────────────────────────────────
delete from customers where id = (select v from ids where k = 'cust_b');
select is((select payload - 'customer_id' - 'store_id' - 'account_ref' from private.jobs
           where idempotency_key = 'contact_erase:' || (select v from ids where k = 'cust_b')),
          jsonb_build_object('contact_id', 902, 'external_id', 'c-store_b', 'user_id', null),
          'erasing a customer queues the erasure with the contact id and identifier, no personal data');
select is((select count(*)::int from customer_contact_links where customer_id = (select v from ids where k = 'cust_b')), 0,
          'the link goes with the customer');

select * from finish();
rollback;
