-- +goose Up
-- The quota ledger (internal/quota, store/quota.go): one row per budget
-- of an API credential, shared by every worker. The key is
-- "<policy>|<host>|<SHA-256 of the credential headers>|<scope>": never a
-- token. A call reserves before it is sent ("quotaReserve", one statement
-- under the row's lock) and its answer is fed back ("quotaObserve").
--
-- Two models live in a row, whichever the API gives:
--   * a window, from the rate-limit headers: "limit" per window,
--     "remaining" until "resetAt"; "windowMs" is learned from two
--     successive resets so that the next window can be predicted before
--     the first answer of it comes back;
--   * a pace (GCRA: one call every "intervalMs", "tat" the theoretical
--     arrival time of the next), given by the platform (Dev.to 3/s,
--     Discord's global 50/s) or learned from what was granted before a 429
--     when the API sends no rate-limit headers.
-- "blockedUntil" is a 429's end: nobody calls before it.
CREATE TABLE "quotaLedger" (
    key             text PRIMARY KEY,
    "limit"         integer,
    remaining       integer,
    "resetAt"       timestamptz,
    "fedResetAt"    timestamptz,
    "windowMs"      double precision,
    "blockedUntil"  timestamptz,
    "intervalMs"    double precision NOT NULL DEFAULT 0,
    -- The platform's own pace of the key, as its last booking gave it.
    "paceMs"        double precision NOT NULL DEFAULT 0,
    tat             timestamptz,
    -- granted numbers the reservations (the last one's sequence); fed is
    -- the highest sequence whose answer was observed: the calls between
    -- them are in flight, already spent but not yet counted by the answers.
    granted         bigint NOT NULL DEFAULT 0,
    "grantedAt"     timestamptz,
    fed             bigint NOT NULL DEFAULT 0,
    -- The learning of a pace: the grants after "observedFrom" since
    -- "observedSince" are what the API allowed before its next 429.
    "observedSince" timestamptz NOT NULL DEFAULT now(),
    "observedFrom"  bigint NOT NULL DEFAULT 0,
    refusals        bigint NOT NULL DEFAULT 0,
    "refusedAt"     timestamptz,
    "updatedAt"     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "quotaLedger_updatedAt" ON "quotaLedger" ("updatedAt");

-- quotaReserve books one unit (cost) of each key for a call, or nothing.
-- The rows are locked in key order (two callers with overlapping keys never
-- deadlock) and read once; the booking is written only if every key can
-- give now, or by a paced slot at most maxWaitMs away. It returns whether
-- it booked, when the call may go (or, not booked, when to ask again), the
-- sequences of the booking, one per key, and the key that made it wait.
-- +goose StatementBegin
CREATE FUNCTION "quotaReserve"(p_keys text[], p_costs integer[], p_paces double precision[],
                               p_now timestamptz, p_max_wait_ms double precision)
RETURNS TABLE (booked boolean, "at" timestamptz, seqs bigint[], "latestKey" text)
LANGUAGE plpgsql AS $$
DECLARE
    r          "quotaLedger"%ROWTYPE;
    n          integer := coalesce(array_length(p_keys, 1), 0);
    rems       integer[] := '{}';
    resets     timestamptz[] := '{}';
    slot       timestamptz;
    latest     timestamptz := p_now;
    latest_key text;
    can        boolean := true;
    rem        integer;
    rst        timestamptz;
    inflight   bigint;
    iv         double precision;
    seq        bigint;
    out_seqs   bigint[] := '{}';
BEGIN
    INSERT INTO "quotaLedger" (key, "observedSince", "updatedAt")
    SELECT k, p_now, p_now FROM unnest(p_keys) AS k
    ON CONFLICT (key) DO NOTHING;
    PERFORM 1 FROM "quotaLedger" WHERE key = ANY (p_keys) ORDER BY key FOR UPDATE;
    -- A learned pace is a guess: after a minute without a refusal it is
    -- halved, so that a 429 met once (or a pace learned while the engine
    -- was the slower side) does not hold a credential back for ever. Too
    -- fast, the next refusal teaches it again.
    UPDATE "quotaLedger" SET
        "intervalMs" = CASE WHEN "intervalMs" / 2 < 1 THEN 0 ELSE "intervalMs" / 2 END,
        "refusedAt" = p_now
    WHERE key = ANY (p_keys) AND "intervalMs" > 0 AND "refusedAt" < p_now - interval '60 seconds';

    FOR i IN 1..n LOOP
        SELECT * INTO r FROM "quotaLedger" WHERE key = p_keys[i];
        slot := p_now;
        IF r."blockedUntil" > p_now THEN
            -- A 429 is running: everyone asks again at its end.
            slot := r."blockedUntil";
            can := false;
        END IF;
        rem := r.remaining;
        rst := r."resetAt";
        -- Calls in flight count against a new window until their answers
        -- say otherwise; a crashed caller's stop counting 10 s after the
        -- last grant.
        inflight := CASE WHEN r."grantedAt" > p_now - interval '10 seconds'
                         THEN greatest(r.granted - r.fed, 0) ELSE 0 END;
        IF rst IS NOT NULL AND rst <= p_now THEN
            -- The window is over: a full one, less what is in flight.
            rem := CASE WHEN r."limit" IS NOT NULL THEN greatest(r."limit" - inflight, 0)::integer END;
            IF r."windowMs" > 0 THEN
                -- The window p_now is in, predicted from the learned length.
                rst := rst + (floor(extract(epoch FROM p_now - rst) * 1000 / r."windowMs") + 1)
                             * r."windowMs" * interval '1 millisecond';
            ELSE
                rst := NULL;
            END IF;
        END IF;
        IF rem IS NOT NULL AND rem < p_costs[i] THEN
            IF rst IS NOT NULL THEN
                slot := greatest(slot, rst);
                can := false;
            ELSIF r."grantedAt" > p_now - interval '2 seconds' THEN
                -- End unknown: the answers in flight will tell; ask again soon.
                slot := greatest(slot, p_now + interval '50 milliseconds');
                can := false;
            ELSE
                -- Nothing in flight tells anything any more: trust the limit.
                rem := r."limit";
            END IF;
        END IF;
        iv := greatest(r."intervalMs", coalesce(p_paces[i], 0));
        IF r.granted >= 1 AND r.fed = 0 AND r."limit" IS NULL AND r.refusals = 0 AND iv = 0
           AND r."grantedAt" > p_now - interval '2 seconds' THEN
            -- A budget never heard of: its first call is a probe, and the
            -- others wait for its answer (the headers it may bring) rather
            -- than overspend a window they know nothing of.
            slot := greatest(slot, p_now + interval '20 milliseconds');
            can := false;
        END IF;
        IF iv > 0 AND r.tat > slot THEN
            slot := r.tat;
        END IF;
        rems := rems || rem;
        resets := resets || rst;
        IF slot > latest THEN
            latest := slot;
            latest_key := p_keys[i];
        END IF;
    END LOOP;

    IF NOT can OR latest > p_now + p_max_wait_ms * interval '1 millisecond' THEN
        RETURN QUERY SELECT false, latest, NULL::bigint[], latest_key;
        RETURN;
    END IF;

    FOR i IN 1..n LOOP
        UPDATE "quotaLedger" AS q SET
            remaining = rems[i] - p_costs[i],
            "resetAt" = resets[i],
            tat = CASE WHEN greatest(q."intervalMs", coalesce(p_paces[i], 0)) > 0
                       THEN latest + greatest(q."intervalMs", coalesce(p_paces[i], 0)) * p_costs[i] * interval '1 millisecond'
                  END,
            granted = q.granted + 1,
            "grantedAt" = p_now,
            "paceMs" = coalesce(p_paces[i], 0),
            -- An observation covers calls made one after another: after
            -- 2 s without one it starts again, so that idle time never
            -- passes for the API's slowness.
            "observedSince" = CASE WHEN q."grantedAt" IS NULL OR q."grantedAt" < p_now - interval '2 seconds'
                                   THEN p_now ELSE q."observedSince" END,
            "observedFrom" = CASE WHEN q."grantedAt" IS NULL OR q."grantedAt" < p_now - interval '2 seconds'
                                  THEN q.granted ELSE q."observedFrom" END,
            "updatedAt" = p_now
        WHERE q.key = p_keys[i]
        RETURNING q.granted INTO seq;
        out_seqs := out_seqs || seq;
    END LOOP;
    RETURN QUERY SELECT true, latest, out_seqs, latest_key;
END
$$;
-- +goose StatementEnd

-- quotaObserve feeds a call's answer to its key: the rate-limit headers
-- (p_limit, p_remaining, p_reset; NULL when absent) and a refusal (429
-- until p_until). p_seq is the call's booking (0: none); p_margin widens a
-- learned pace (0.03: 3 % slower than what was granted).
-- +goose StatementBegin
CREATE FUNCTION "quotaObserve"(p_key text, p_seq bigint, p_now timestamptz,
                               p_limit integer, p_remaining integer, p_reset timestamptz,
                               p_refused boolean, p_until timestamptz, p_margin double precision)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r       "quotaLedger"%ROWTYPE;
    after   bigint;
    diff    double precision;
    n       bigint;
    span    double precision;
    block   timestamptz;
    same    interval := interval '250 milliseconds';
BEGIN
    INSERT INTO "quotaLedger" (key, "observedSince", "updatedAt") VALUES (p_key, p_now, p_now)
    ON CONFLICT (key) DO NOTHING;
    SELECT * INTO r FROM "quotaLedger" WHERE key = p_key FOR UPDATE;

    -- The calls booked after this one: the server had not counted them
    -- when it answered this one.
    after := CASE WHEN p_seq > 0 THEN greatest(r.granted - p_seq, 0) ELSE greatest(r.granted - r.fed, 0) END;
    IF p_limit IS NOT NULL AND p_limit > 0 THEN
        r."limit" := p_limit;
    END IF;
    IF p_remaining IS NOT NULL AND p_reset IS NOT NULL AND p_reset > p_now THEN
        IF r."resetAt" IS NULL OR p_reset > r."resetAt" + same THEN
            -- A window newer than the row's: the server's count wins.
            IF r."fedResetAt" IS NOT NULL THEN
                diff := extract(epoch FROM p_reset - r."fedResetAt") * 1000;
                IF diff >= 250 THEN
                    r."windowMs" := least(coalesce(r."windowMs", diff), diff);
                END IF;
            END IF;
            r."resetAt" := p_reset;
            r.remaining := p_remaining - after;
        ELSIF p_reset >= r."resetAt" - same THEN
            -- The same window: the lower count wins (answers arrive out
            -- of order; another client of the credential spends too).
            r.remaining := least(coalesce(r.remaining, p_remaining - after), p_remaining - after);
            -- And the later end: a window that opened late (at its first
            -- call) ends late too.
            r."resetAt" := greatest(r."resetAt", p_reset);
        END IF;
        -- An older window's answer teaches nothing.
        IF r."fedResetAt" IS NULL OR p_reset > r."fedResetAt" + same THEN
            r."fedResetAt" := p_reset;
        END IF;
    END IF;
    IF p_refused THEN
        r.refusals := r.refusals + 1;
        r."refusedAt" := p_now;
        block := p_until;
        IF p_seq > r."observedFrom" OR p_seq = 0 THEN
            -- The first refusal since the observation began: what was
            -- granted in it is the pace the API sustains.
            n := greatest(CASE WHEN p_seq > 0 THEN p_seq ELSE r.granted END - r."observedFrom" - 1, 0);
            span := extract(epoch FROM p_now - r."observedSince") * 1000;
            IF r."limit" IS NULL AND n >= 1 AND span > 3000 THEN
                -- Refused after seconds of calls: their average says what
                -- the caller did (the engine may have been the slower
                -- side), not what the API allows. Only slow down a little
                -- from the pace in force, if any.
                r."intervalMs" := greatest(r."intervalMs", r."paceMs") * 1.05;
            ELSIF r."limit" IS NULL AND n >= 1 THEN
                -- At least a second: a burst granted in a fraction of a
                -- window says the window's budget, not a rate.
                span := greatest(span, 1000);
                r."intervalMs" := greatest(span / n * (1 + p_margin), r."intervalMs" * 1.05);
                IF r.refusals = 1 AND p_until <= p_now + interval '1 second' AND span = 1000 THEN
                    -- The budget's first refusal, with a Retry-After of a
                    -- second at most: whole seconds rounded up. The window
                    -- of a second that the first call opened (or fell in)
                    -- ends sooner, a second after that call (and a little).
                    -- (Later, an observation starts where a block ended,
                    -- in the middle of a window: no such guess.)
                    block := least(p_until, greatest(p_now, r."observedSince" + interval '1030 milliseconds'));
                END IF;
            END IF;
            r."observedSince" := greatest(block, p_now);
            r."observedFrom" := r.granted;
            r."blockedUntil" := greatest(r."blockedUntil", block);
        ELSIF coalesce(r."blockedUntil", '-infinity') < p_now THEN
            -- A refusal of the burst the observation already learned from
            -- that comes after its block ended: it blocks anew.
            r."blockedUntil" := block;
        END IF;
        -- (Other refusals of that burst add nothing: the block it set is
        -- the window's end.)
        r.tat := greatest(r.tat, r."blockedUntil");
    END IF;
    UPDATE "quotaLedger" SET
        "limit" = r."limit", remaining = r.remaining, "resetAt" = r."resetAt",
        "fedResetAt" = r."fedResetAt", "windowMs" = r."windowMs",
        "blockedUntil" = r."blockedUntil", "intervalMs" = r."intervalMs", tat = r.tat,
        fed = greatest(r.fed, p_seq), "observedSince" = r."observedSince",
        "observedFrom" = r."observedFrom", refusals = r.refusals, "refusedAt" = r."refusedAt",
        "updatedAt" = p_now
    WHERE key = p_key;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION "quotaObserve"(text, bigint, timestamptz, integer, integer, timestamptz, boolean, timestamptz, double precision);
DROP FUNCTION "quotaReserve"(text[], integer[], double precision[], timestamptz, double precision);
DROP TABLE "quotaLedger";
