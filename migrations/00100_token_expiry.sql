-- +goose Up
-- When the integration's access token expires, so that it is refreshed only
-- when it is about to (X's refresh tokens are single-use: every needless
-- refresh is one more chance to lose the pair). NULL: unknown (a token
-- given at connect time), treated as expired when a refresh token exists.
ALTER TABLE integrations ADD COLUMN "tokenExpiresAt" timestamptz;

-- +goose Down
ALTER TABLE integrations DROP COLUMN "tokenExpiresAt";
