-- +goose Up
-- +goose StatementBegin
-- crowd_merge_reach (00102) taking a reach that is not an object (JSON
-- null, a number written by hand) as none, instead of failing the upsert.
CREATE OR REPLACE FUNCTION crowd_merge_reach(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH merged AS (
        SELECT (CASE WHEN jsonb_typeof(old) = 'object' THEN old ELSE '{}'::jsonb END - 'total')
            || (CASE WHEN jsonb_typeof(new) = 'object' THEN new ELSE '{}'::jsonb END - 'total') AS r
    )
    SELECT CASE WHEN r = '{}'::jsonb THEN '{"total": -1}'::jsonb
        ELSE r || jsonb_build_object('total', (SELECT sum((v #>> '{}')::numeric) FROM jsonb_each(r) AS e(k, v)
            WHERE jsonb_typeof(v) = 'number'))
    END
    FROM merged
$$;
-- +goose StatementEnd

-- +goose Down
-- 00102's version stays; nothing to undo.
SELECT 1;
