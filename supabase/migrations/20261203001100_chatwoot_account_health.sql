-- What a linked Chatwoot account tells us about itself that a person must act on, kept where the
-- admin app and the CLI show it: its API closed by Chatwoot Cloud's free plan (403 "API access is
-- not enabled for this account", PR #14973: no token API and no account webhooks), and a webhook
-- URL Chatwoot 4.14+ will refuse to call because it resolves to a private address (SafeFetch).

alter table public.chatwoot_accounts
  add column api_closed_reason text,
  add column api_closed_at timestamptz,
  add column webhook_target_warning text;
comment on column public.chatwoot_accounts.api_closed_reason is
  'Set when Chatwoot refuses every token call for this account (Cloud free plan); jobs stop instead of retrying. Cleared by linking again.';
comment on column public.chatwoot_accounts.webhook_target_warning is
  'Set when the webhook URL resolves only to private addresses: Chatwoot 4.14+ SafeFetch will not deliver to it unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true.';
