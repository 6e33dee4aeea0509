-- Extensions the project relies on, in Supabase's `extensions` schema. pgvector serves the
-- knowledge base (AI replies); pgcrypto gives digest()/gen_random_bytes() for hashed tokens.

create extension if not exists pgcrypto with schema extensions;
create extension if not exists vector with schema extensions;
