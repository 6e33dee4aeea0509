-- Contact merges (private.record_chatwoot_contact_merge): the mergee is marked merged in the
-- mirror, its conversations move to the base, a customer linked to it follows unless another
-- customer holds the base (then the link is marked and a conflict recorded); recording twice
-- changes nothing; API roles cannot call it; the new columns are there.
begin;
\ir _helpers.psql
select plan(14);

select has_column('public', 'chatwoot_contacts', 'merged_into', 'mirror contacts say what they were merged into');
select has_column('public', 'customer_contact_links', 'merged_into', 'customer links say when their base is taken');
select has_column('public', 'chatwoot_accounts', 'api_closed_reason', 'accounts keep a closed API''s reason');
select ok(not has_function_privilege('authenticated', 'private.record_chatwoot_contact_merge(uuid, integer, integer, text)', 'execute'),
          'authenticated cannot record merges');

insert into public.stores (id, slug, name, chatwoot_provisioning)
values ('20000000-0000-4000-8000-0000000000a1', 'merge-tap', 'Merge TAP', 'manual');
insert into public.chatwoot_accounts (id, store_id, chatwoot_url, account_id)
values ('20000000-0000-4000-8000-0000000000b1', '20000000-0000-4000-8000-0000000000a1', 'https://chat.example.com', 901);
insert into public.chatwoot_contacts (account_ref, contact_id, store_id, name)
values ('20000000-0000-4000-8000-0000000000b1', 11, '20000000-0000-4000-8000-0000000000a1', 'mergee'),
       ('20000000-0000-4000-8000-0000000000b1', 12, '20000000-0000-4000-8000-0000000000a1', 'base');
insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, status, contact_id, version)
values ('20000000-0000-4000-8000-0000000000b1', 1, '20000000-0000-4000-8000-0000000000a1', 7, 'open', 11, 1),
       ('20000000-0000-4000-8000-0000000000b1', 2, '20000000-0000-4000-8000-0000000000a1', 7, 'open', 11, 1);
insert into public.customers (id, store_id, external_id, name)
values ('20000000-0000-4000-8000-0000000000c1', '20000000-0000-4000-8000-0000000000a1', 'cus_a', 'A'),
       ('20000000-0000-4000-8000-0000000000c2', '20000000-0000-4000-8000-0000000000a1', 'cus_b', 'B');
insert into public.customer_contact_links (customer_id, store_id, account_ref, contact_id, linked_by, snapshot, sent_hash)
values ('20000000-0000-4000-8000-0000000000c1', '20000000-0000-4000-8000-0000000000a1',
        '20000000-0000-4000-8000-0000000000b1', 11, 'identifier', '{"name":"A"}', 'h1');

select is(private.record_chatwoot_contact_merge('20000000-0000-4000-8000-0000000000b1', 11, 12, 'test'),
          '{"conversations": 2, "links_followed": 1, "links_blocked": 0}'::jsonb, 'a merge moves two conversations and one link');
select is((select merged_into from public.chatwoot_contacts where contact_id = 11), 12, 'the mergee is marked merged');
select is((select count(*)::int from public.chatwoot_conversations where contact_id = 12), 2, 'its conversations belong to the base');
select is((select contact_id from public.customer_contact_links where customer_id = '20000000-0000-4000-8000-0000000000c1'),
          12, 'the customer link follows the merge');
select is((select sent_hash from public.customer_contact_links where customer_id = '20000000-0000-4000-8000-0000000000c1'),
          null, 'and will send the customer''s values again');
select is(private.record_chatwoot_contact_merge('20000000-0000-4000-8000-0000000000b1', 11, 12, 'test'),
          '{"conversations": 0, "links_followed": 0, "links_blocked": 0}'::jsonb, 'recording it twice changes nothing');

-- A merge into a contact another customer holds: the link cannot follow.
insert into public.customer_contact_links (customer_id, store_id, account_ref, contact_id, linked_by)
values ('20000000-0000-4000-8000-0000000000c2', '20000000-0000-4000-8000-0000000000a1',
        '20000000-0000-4000-8000-0000000000b1', 13, 'identifier');
select is(private.record_chatwoot_contact_merge('20000000-0000-4000-8000-0000000000b1', 13, 12, 'test')->>'links_blocked',
          '1', 'a base held by another customer blocks the link');
select is((select merged_into from public.customer_contact_links where customer_id = '20000000-0000-4000-8000-0000000000c2'),
          12, 'the blocked link says where its contact went');
select is((select count(*)::int from public.contact_sync_conflicts
            where customer_id = '20000000-0000-4000-8000-0000000000c2' and resolution = 'merged'), 1, 'and a conflict is recorded');
select throws_ok($$select private.record_chatwoot_contact_merge('20000000-0000-4000-8000-0000000000b1', 12, 12, 'test')$$,
                 'P0001', 'a contact cannot be merged into itself (12)', 'a contact is never merged into itself');

select * from finish();
rollback;
