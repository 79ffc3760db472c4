-- +goose Up
-- +goose StatementBegin
-- crowd.dev's calculateReach: the platforms' follower counts of old and new
-- (new wins per platform), and total = their sum; {"total": -1} when there
-- are none.
CREATE FUNCTION crowd_merge_reach(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH merged AS (
        SELECT (coalesce(old, '{}'::jsonb) - 'total') || (coalesce(new, '{}'::jsonb) - 'total') AS r
    )
    SELECT CASE WHEN r = '{}'::jsonb THEN '{"total": -1}'::jsonb
        ELSE r || jsonb_build_object('total', (SELECT sum((v #>> '{}')::numeric) FROM jsonb_each(r) AS e(k, v)
            WHERE jsonb_typeof(v) = 'number'))
    END
    FROM merged
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION crowd_merge_reach(jsonb, jsonb);
