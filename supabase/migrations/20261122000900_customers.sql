-- The platform's side of the customer: each store's customers and their orders, with the
-- aggregates (order count, lifetime value, last order) and tier that Chatwoot agents see.
-- Platforms that already keep such tables map them in through a view (see README).

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

-- Per-store customer settings: the currency lifetime value is counted in, and the country a
-- phone number written without one is read in.
create table public.customer_settings (
  store_id uuid primary key references public.stores (id) on delete cascade,
  currency text not null default 'USD' constraint customer_settings_currency_iso check (currency ~ '^[A-Z]{3}$'),
  default_phone_country text constraint customer_settings_country_iso check (default_phone_country ~ '^[A-Z]{2}$'),
  updated_at timestamptz not null default now()
);

-- A store's tiers: a customer holds the highest tier whose thresholds they meet (both of them).
create table public.customer_tiers (
  store_id uuid not null references public.stores (id) on delete cascade,
  tier text not null constraint customer_tiers_name_format check (tier ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  min_lifetime_value numeric(14, 2) not null default 0 constraint customer_tiers_value_nonnegative check (min_lifetime_value >= 0),
  min_order_count integer not null default 0 constraint customer_tiers_orders_nonnegative check (min_order_count >= 0),
  primary key (store_id, tier)
);

create table public.customers (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id) on delete cascade,
  -- The platform's own id for this customer; Chatwoot's contact identifier is derived from it.
  external_id text not null constraint customers_external_id_length check (char_length(external_id) between 1 and 200),
  -- The platform user behind the customer, when they have an account (their WhatsApp archive).
  user_id uuid references auth.users (id) on delete set null,
  name text constraint customers_name_length check (char_length(name) <= 255),
  email text constraint customers_email_length check (char_length(email) <= 320),
  -- As the platform holds it: any format. The sync normalises it to E.164 (or leaves it out).
  phone text constraint customers_phone_length check (char_length(phone) <= 64),
  order_count integer not null default 0,
  lifetime_value numeric(14, 2) not null default 0,
  last_order_at timestamptz,
  tier text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customers_external_id_unique unique (store_id, external_id),
  -- The target of orders' (customer_id, store_id) key: an order cannot name another store's customer.
  constraint customers_id_store_unique unique (id, store_id)
);
comment on column public.customers.order_count is 'Maintained from orders (paid or fulfilled); not written by API roles.';

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id) on delete cascade,
  customer_id uuid not null,
  external_id text,
  amount numeric(14, 2) not null constraint orders_amount_nonnegative check (amount >= 0),
  currency text not null constraint orders_currency_iso check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'paid'
    constraint orders_status_known check (status in ('pending', 'paid', 'fulfilled', 'refunded', 'cancelled')),
  placed_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint orders_external_id_unique unique (store_id, external_id),
  constraint orders_customer_in_store foreign key (customer_id, store_id)
    references public.customers (id, store_id) on delete cascade
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
create index customers_user_idx on public.customers (user_id) where user_id is not null;
create index orders_customer_idx on public.orders (customer_id);
create index orders_store_id_idx on public.orders (store_id);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The tier a store gives a customer with these aggregates: the highest (by lifetime value, then
-- order count) whose thresholds are both met; null when the store defines none that apply.
create function public.customer_tier_for(p_store_id uuid, p_lifetime_value numeric, p_order_count integer)
returns text
language sql
stable
set search_path = ''
as $$
  select t.tier from public.customer_tiers t
   where t.store_id = p_store_id and p_lifetime_value >= t.min_lifetime_value and p_order_count >= t.min_order_count
   order by t.min_lifetime_value desc, t.min_order_count desc, t.tier
   limit 1
$$;

-- Recomputes one customer's aggregates from their orders. A full recount (not +/- deltas)
-- so an edited amount, a refund or a moved order can never leave the totals drifting; a
-- customer's orders are few and indexed. Writes only when something changed, so the contact
-- sync is not woken for nothing.
create function private.refresh_customer_aggregates(p_customer_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid;
  v_currency text;
  v_count integer;
  v_value numeric(14, 2);
  v_last timestamptz;
begin
  select c.store_id, coalesce(s.currency, 'USD') into v_store, v_currency
    from public.customers c left join public.customer_settings s on s.store_id = c.store_id
   where c.id = p_customer_id;
  if v_store is null then
    return; -- the customer is being deleted
  end if;
  select count(*)::integer,
         coalesce(sum(o.amount) filter (where o.currency = v_currency), 0),
         max(o.placed_at)
    into v_count, v_value, v_last
    from public.orders o
   where o.customer_id = p_customer_id and o.status in ('paid', 'fulfilled');
  update public.customers c
     set order_count = v_count, lifetime_value = v_value, last_order_at = v_last,
         tier = public.customer_tier_for(v_store, v_value, v_count)
   where c.id = p_customer_id
     and (c.order_count, c.lifetime_value, c.last_order_at, c.tier)
         is distinct from (v_count, v_value, v_last, public.customer_tier_for(v_store, v_value, v_count));
end
$$;

create function private.orders_refresh_aggregates()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    perform private.refresh_customer_aggregates(old.customer_id);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and (tg_op = 'INSERT' or new.customer_id <> old.customer_id) then
    perform private.refresh_customer_aggregates(new.customer_id);
  end if;
  return null;
end
$$;

-- Changing a store's tiers re-tiers its customers (a statement, not a job: it is one update).
create function private.customer_tiers_retier()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid := coalesce(new.store_id, old.store_id);
begin
  update public.customers c
     set tier = public.customer_tier_for(c.store_id, c.lifetime_value, c.order_count)
   where c.store_id = v_store
     and c.tier is distinct from public.customer_tier_for(c.store_id, c.lifetime_value, c.order_count);
  return null;
end
$$;

-- API roles never write aggregates: they follow the orders. A statement from the aggregate
-- refresh (which runs as the table owner) passes.
create function private.customers_guard_aggregates()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('authenticated', 'anon') then
    if tg_op = 'INSERT' then
      new.order_count := 0;
      new.lifetime_value := 0;
      new.last_order_at := null;
      new.tier := public.customer_tier_for(new.store_id, 0, 0);
    else
      new.order_count := old.order_count;
      new.lifetime_value := old.lifetime_value;
      new.last_order_at := old.last_order_at;
      new.tier := old.tier;
    end if;
  elsif tg_op = 'INSERT' and new.tier is null then
    new.tier := public.customer_tier_for(new.store_id, new.lifetime_value, new.order_count);
  end if;
  return new;
end
$$;

create trigger customers_guard_aggregates before insert or update on public.customers
  for each row execute function private.customers_guard_aggregates();
create trigger customers_touch_updated_at before update on public.customers
  for each row execute function public.touch_updated_at();
create trigger orders_touch_updated_at before update on public.orders
  for each row execute function public.touch_updated_at();
create trigger customer_settings_touch_updated_at before update on public.customer_settings
  for each row execute function public.touch_updated_at();
create trigger orders_refresh_aggregates after insert or update or delete on public.orders
  for each row execute function private.orders_refresh_aggregates();
create trigger customer_tiers_retier after insert or update or delete on public.customer_tiers
  for each row execute function private.customer_tiers_retier();

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
alter table public.customer_settings enable row level security;
alter table public.customer_tiers enable row level security;
alter table public.customers enable row level security;
alter table public.orders enable row level security;

-- Members (agents included: they serve these customers) read their store's customers, orders,
-- tiers and settings; store admins write them; platform administrators read everything. Nobody
-- writes another store's rows: every check names the row's own store_id.
create policy "Store members can read their store's customer settings" on public.customer_settings
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every customer setting" on public.customer_settings
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can create their store's customer settings" on public.customer_settings
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's customer settings" on public.customer_settings
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));

create policy "Store members can read their store's tiers" on public.customer_tiers
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every tier" on public.customer_tiers
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can add their store's tiers" on public.customer_tiers
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's tiers" on public.customer_tiers
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can remove their store's tiers" on public.customer_tiers
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')));

create policy "Store members can read their store's customers" on public.customers
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every customer" on public.customers
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can add their store's customers" on public.customers
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's customers" on public.customers
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can erase their store's customers" on public.customers
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')));

create policy "Store members can read their store's orders" on public.orders
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every order" on public.orders
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can add their store's orders" on public.orders
  for insert to authenticated
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's orders" on public.orders
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can remove their store's orders" on public.orders
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.customer_settings, public.customer_tiers, public.customers, public.orders from anon;
revoke execute on function private.refresh_customer_aggregates(uuid) from public, anon, authenticated;
revoke execute on function private.orders_refresh_aggregates() from public, anon, authenticated;
revoke execute on function private.customer_tiers_retier() from public, anon, authenticated;
revoke execute on function private.customers_guard_aggregates() from public, anon, authenticated;
revoke execute on function public.customer_tier_for(uuid, numeric, integer) from public, anon;
grant execute on function public.customer_tier_for(uuid, numeric, integer) to authenticated, service_role;
