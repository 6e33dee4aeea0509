-- Demo tenants for the local stack: two stores, their owners and an agent, and a platform
-- administrator. Users have no password here (the local auth stand-in sets per-run ones).

insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at, phone)
values
  ('00000000-0000-4000-8000-000000000001', 'admin@switchboard.test',
   '{"provider":"email","providers":["email"],"platform_admin":true}', '{"full_name":"Platform Admin"}', now(), null),
  ('00000000-0000-4000-8000-00000000a001', 'ana@acme.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Ana Acme","phone_e164":"+5511987654321"}', now(), null),
  ('00000000-0000-4000-8000-00000000a002', 'bruno@acme.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Bruno Agent","phone_e164":"+5215512345678"}', now(), null),
  ('00000000-0000-4000-8000-00000000b001', 'gina@globex.test',
   '{"provider":"email","providers":["email"]}', '{"full_name":"Gina Globex","phone_e164":"+14155550101"}', now(), null)
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
