-- Demo tenants for the local stack: two stores, their owners and an agent, and a platform
-- administrator. Users have no password here (the local auth stand-in sets per-run ones).
--
-- Every column GoTrue reads when a user signs in is set here, not left to column defaults: on a
-- hosted or preview database auth.users has none for aud, role or the timestamps (a user without
-- aud is never found at sign-in), and GoTrue cannot read a NULL token column (supabase/auth#1940).

insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at,
                        phone, confirmation_token, recovery_token, email_change, email_change_token_new,
                        created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.email, u.app_meta::jsonb,
       u.user_meta::jsonb, now(), null, '', '', '', '', now(), now()
from (values
  ('00000000-0000-4000-8000-000000000001'::uuid, 'admin@switchboard.test',
   '{"provider":"email","providers":["email"],"platform_admin":true}', '{"full_name":"Platform Admin"}'),
  ('00000000-0000-4000-8000-00000000a001'::uuid, 'ana@acme.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Ana Acme","phone_e164":"+5511987654321"}'),
  ('00000000-0000-4000-8000-00000000a002'::uuid, 'bruno@acme.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Bruno Agent","phone_e164":"+5215512345678"}'),
  ('00000000-0000-4000-8000-00000000b001'::uuid, 'gina@globex.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Gina Globex","phone_e164":"+14155550101"}')
) as u (id, email, app_meta, user_meta)
on conflict (id) do nothing;

insert into public.stores (id, slug, name, domain, support_email)
values
  ('10000000-0000-4000-8000-00000000000a', 'acme', 'Acme Outfitters', 'acme.test', 'help@acme.test'),
  ('10000000-0000-4000-8000-00000000000b', 'globex', 'Globex Gadgets', 'globex.test', null)
on conflict (id) do nothing;

insert into public.store_members (store_id, user_id, role)
values
  ('10000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000a001', 'owner'),
  ('10000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000a002', 'agent'),
  ('10000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000b001', 'owner')
on conflict do nothing;

-- Customers and orders: synced to each store's Chatwoot contacts once its account is
-- provisioned (Sam Rivera's phone is the demo WhatsApp contact's, so the two are linked).
insert into public.customer_tiers (store_id, tier, min_lifetime_value, min_order_count)
values
  ('10000000-0000-4000-8000-00000000000a', 'bronze', 0, 0),
  ('10000000-0000-4000-8000-00000000000a', 'silver', 100, 2),
  ('10000000-0000-4000-8000-00000000000a', 'gold', 500, 3),
  ('10000000-0000-4000-8000-00000000000b', 'standard', 0, 0),
  ('10000000-0000-4000-8000-00000000000b', 'vip', 1000, 1)
on conflict do nothing;

insert into public.contact_sync_settings (store_id, platform_url_template)
values
  ('10000000-0000-4000-8000-00000000000a', 'https://admin.acme.test/customers/{external_id}'),
  ('10000000-0000-4000-8000-00000000000b', 'https://admin.globex.test/customers/{external_id}')
on conflict do nothing;
insert into public.customer_settings (store_id, currency, default_phone_country)
values
  ('10000000-0000-4000-8000-00000000000a', 'USD', 'MX'),
  ('10000000-0000-4000-8000-00000000000b', 'USD', 'US')
on conflict do nothing;

insert into public.customers (id, store_id, external_id, user_id, name, email, phone)
values
  ('20000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-00000000000a', 'acme-1001', null,
   'Carlos Duarte', 'carlos@example.com', '55 1234 9876'),
  ('20000000-0000-4000-8000-00000000000b', '10000000-0000-4000-8000-00000000000a', 'acme-1002',
   '00000000-0000-4000-8000-00000000a001', 'Ana Acme', 'ana@acme.test', '+5511987654321'),
  ('20000000-0000-4000-8000-00000000000c', '10000000-0000-4000-8000-00000000000a', 'acme-1003', null,
   'Lucía Fernández', 'lucia@example.com', 'not a phone'),
  ('20000000-0000-4000-8000-00000000000d', '10000000-0000-4000-8000-00000000000b', 'globex-77', null,
   'Sam Rivera', 'sam@example.com', '(415) 555-0123')
on conflict (id) do nothing;

insert into public.orders (id, store_id, customer_id, external_id, amount, currency, status, placed_at)
values
  ('30000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-00000000000a',
   '20000000-0000-4000-8000-00000000000a', 'A-1', 320.00, 'USD', 'fulfilled', now() - interval '40 days'),
  ('30000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-00000000000a',
   '20000000-0000-4000-8000-00000000000a', 'A-2', 95.50, 'USD', 'paid', now() - interval '12 days'),
  ('30000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-00000000000a',
   '20000000-0000-4000-8000-00000000000a', 'A-3', 140.00, 'USD', 'paid', now() - interval '2 days'),
  ('30000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-00000000000a',
   '20000000-0000-4000-8000-00000000000b', 'A-4', 60.00, 'USD', 'paid', now() - interval '5 days'),
  ('30000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-00000000000b',
   '20000000-0000-4000-8000-00000000000d', 'G-1', 1299.00, 'USD', 'fulfilled', now() - interval '20 days')
on conflict (id) do nothing;
