// A schema nobody here designed around: the kinds of objects real applications have, in the shapes
// that break tools written for one demo. Content (identity and generated columns, enums, arrays,
// jsonb, tsvector, inheritance, a materialized view), billing (monthly partitions with a foreign key
// declared on them, composite keys, numeric and money), auth outside `public` (a trigger that
// stamps rows, row-level security, uuid keys, domains, citext), a graph (self-references and three
// levels of ON DELETE CASCADE, down to notes without a key), a log table without a primary key
// (repeated rows, a trigger stamping inserts), and identifiers that need quoting.
// `owner` is a role of the server that owns some of it and is granted the rest.

export function schemaZooSql(owner: string): string {
  const o = `"${owner.replace(/"/g, '""')}"`;
  return `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE public.settings (key text PRIMARY KEY, value jsonb NOT NULL);
INSERT INTO public.settings VALUES ('mode', '"live"'), ('limits', '{"rps": 100, "tags": ["a", "b"]}');

CREATE SCHEMA content;
CREATE TYPE content.status AS ENUM ('draft', 'review', 'published');
CREATE TYPE content.span AS (starts timestamptz, ends timestamptz);
CREATE TYPE content.score_range AS RANGE (subtype = numeric);
CREATE TABLE content.articles (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL DEFAULT '',
  status content.status NOT NULL DEFAULT 'draft',
  tags text[] NOT NULL DEFAULT '{}',
  meta jsonb,
  words int GENERATED ALWAYS AS (array_length(regexp_split_to_array(body, '\\s+'), 1)) STORED,
  search tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED,
  published timestamptz DEFAULT 'infinity',
  window_ content.span,
  scores content.score_range,
  raw bytea,
  address inet,
  flags bit(8),
  doc xml,
  took interval
);
CREATE INDEX articles_search ON content.articles USING gin (search);
INSERT INTO content.articles (title, body, status, tags, meta, published, window_, scores, raw, address, flags, doc, took)
SELECT 'title ' || i, repeat(E'word\\tand\\nline \\\\ ', i % 7), (ARRAY['draft','review','published'])[1 + i % 3]::content.status,
       ARRAY['t' || i % 5, NULL, ''], jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x', NULL)),
       CASE WHEN i % 4 = 0 THEN '-infinity'::timestamptz ELSE timestamptz '2024-01-01' + i * interval '1 hour' END,
       ROW(timestamptz '2024-01-01', timestamptz '2024-02-01')::content.span, numrange(i, i + 10)::text::content.score_range,
       decode(md5(i::text), 'hex'), ('10.0.0.' || i % 250)::inet, (i % 256)::bit(8), xmlparse(content '<a>' || i || '</a>'),
       i * interval '1 minute'
  FROM generate_series(1, 200) i;
CREATE TABLE content.pages (slug text PRIMARY KEY, parent_slug text, body text);
CREATE TABLE content.landing_pages (campaign text) INHERITS (content.pages);
INSERT INTO content.pages VALUES ('home', NULL, 'welcome'), ('', NULL, ''), ('null-ish', NULL, NULL);
INSERT INTO content.landing_pages VALUES ('promo', 'home', 'buy', 'spring');
CREATE MATERIALIZED VIEW content.published_counts AS SELECT status, count(*) AS n FROM content.articles GROUP BY status;
CREATE VIEW content.recent AS SELECT id, title FROM content.articles WHERE published > now() - interval '30 days';
COMMENT ON TABLE content.articles IS 'editorial content — with a dash and "quotes"';
COMMENT ON COLUMN content.articles.words IS 'generated';

CREATE SCHEMA billing;
CREATE TABLE billing.customers (region text, customer_id int, name text NOT NULL, balance money DEFAULT 0, PRIMARY KEY (region, customer_id));
CREATE TABLE billing.orders (
  region text, customer_id int, order_id int, ordered_on date NOT NULL, total numeric(14, 4) NOT NULL,
  PRIMARY KEY (region, order_id, ordered_on)
) PARTITION BY RANGE (ordered_on);
CREATE TABLE billing.orders_2024_01 PARTITION OF billing.orders FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE billing.orders_2024_02 PARTITION OF billing.orders FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE billing.orders_other PARTITION OF billing.orders DEFAULT;
ALTER TABLE billing.orders_2024_01 ADD FOREIGN KEY (region, customer_id) REFERENCES billing.customers ON DELETE CASCADE;
ALTER TABLE billing.orders_2024_02 ADD FOREIGN KEY (region, customer_id) REFERENCES billing.customers ON DELETE CASCADE;
INSERT INTO billing.customers SELECT r, c, 'customer ' || r || c, (c * 10.25)::money FROM unnest(ARRAY['eu', 'us']) r, generate_series(1, 20) c;
INSERT INTO billing.orders SELECT (ARRAY['eu', 'us'])[1 + o % 2], 1 + o % 20, o, date '2024-01-01' + (o % 75), o * 1.0001 FROM generate_series(1, 300) o;
CREATE AGGREGATE billing.product(numeric) (SFUNC = numeric_mul, STYPE = numeric, INITCOND = '1');
ALTER TABLE billing.customers OWNER TO ${o};

CREATE SCHEMA auth;
CREATE DOMAIN auth.email AS citext CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE TABLE auth.users (id uuid PRIMARY KEY, email auth.email UNIQUE NOT NULL, tenant text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION auth.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$;
CREATE TRIGGER users_stamp BEFORE UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.stamp();
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth.users USING (tenant = current_setting('app.tenant', true));
INSERT INTO auth.users SELECT md5('u' || i)::uuid, 'user' || i || '@Example.com', 't' || i % 3, timestamptz '2024-03-01' + i * interval '1 day'
  FROM generate_series(1, 50) i;
GRANT USAGE ON SCHEMA auth TO ${o};
GRANT SELECT, UPDATE (email) ON auth.users TO ${o};

CREATE SCHEMA graph;
CREATE TABLE graph.nodes (id int PRIMARY KEY, parent_id int REFERENCES graph.nodes ON DELETE CASCADE, label text);
CREATE TABLE graph.edges (id serial PRIMARY KEY, from_id int NOT NULL REFERENCES graph.nodes ON DELETE CASCADE, to_id int NOT NULL REFERENCES graph.nodes ON DELETE CASCADE);
CREATE TABLE graph.edge_notes (edge_id int REFERENCES graph.edges ON DELETE CASCADE, note text);
INSERT INTO graph.nodes SELECT i, CASE WHEN i > 1 THEN i / 2 END, 'n' || i FROM generate_series(1, 60) i;
INSERT INTO graph.edges (from_id, to_id) SELECT i, 1 + (i * 7) % 60 FROM generate_series(1, 60) i;
INSERT INTO graph.edge_notes SELECT id, 'note ' || id FROM graph.edges WHERE id % 3 = 0;
-- A note held twice (a multiset), and notes of no edge (a NULL reference: no restore of an edge's rows is theirs).
INSERT INTO graph.edge_notes VALUES (51, 'note 51'), (NULL, 'unattached'), (NULL, 'unattached');

CREATE SCHEMA logs;
CREATE TABLE logs.events (at timestamptz NOT NULL, level text, message text);
INSERT INTO logs.events SELECT timestamptz '2024-01-01' + i * interval '1 second', 'info', 'same line' FROM generate_series(1, 30) i;
INSERT INTO logs.events SELECT timestamptz '2024-01-01', 'info', 'same line' FROM generate_series(1, 3);
-- Stamps what the application writes: a restore must not (its rows come back as they were).
CREATE FUNCTION logs.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.level := NEW.level || ' (stamped)'; RETURN NEW; END$$;
CREATE TRIGGER events_stamp BEFORE INSERT ON logs.events FOR EACH ROW EXECUTE FUNCTION logs.stamp();

CREATE SCHEMA "Quoted Schema";
CREATE TABLE "Quoted Schema"."Order" ("select" int PRIMARY KEY, "MixedCase" text, "naïve ☃" text);
CREATE TABLE "Quoted Schema"."naïve table" (id int PRIMARY KEY, "order" int REFERENCES "Quoted Schema"."Order");
INSERT INTO "Quoted Schema"."Order" VALUES (1, 'A', 'é'), (2, 'b', '☃');
INSERT INTO "Quoted Schema"."naïve table" VALUES (10, 1), (20, 2);
GRANT USAGE ON SCHEMA "Quoted Schema" TO ${o};
GRANT SELECT ON ALL TABLES IN SCHEMA "Quoted Schema" TO ${o};
SELECT setval('graph.edges_id_seq', 500);
`;
}
