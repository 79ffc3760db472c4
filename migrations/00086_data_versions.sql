-- +goose Up
-- Issue 8: versions of the two JSON documents every stream of a run reads,
-- the run's pipelineData and the integration's settings. A worker keeps
-- both in memory by (row, version) and reads only the version per stream,
-- instead of the whole document (which, for Dev.to, grows with the number
-- of articles: O(articles²) bytes per onboarding). The settings version is
-- also what Postprocess compares-and-sets, so a user's edit made during a
-- run is not overwritten.
--
-- One sequence for both, so a version is never reused, even by a row that
-- is deleted and created again. Existing rows start at 0 (adding a column
-- with a constant default does not rewrite the table); every change of the
-- column takes a new number, whoever makes it (the engine, the API, an
-- operator's UPDATE).
CREATE SEQUENCE crowdflow_data_version;
ALTER TABLE "integrationRuns" ADD COLUMN "pipelineVersion" bigint NOT NULL DEFAULT 0;
ALTER TABLE "integrationRuns" ALTER COLUMN "pipelineVersion" SET DEFAULT nextval('crowdflow_data_version');
ALTER TABLE integrations ADD COLUMN "settingsVersion" bigint NOT NULL DEFAULT 0;
ALTER TABLE integrations ALTER COLUMN "settingsVersion" SET DEFAULT nextval('crowdflow_data_version');

-- +goose StatementBegin
CREATE FUNCTION crowdflow_bump_pipeline_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."pipelineVersion" := nextval('crowdflow_data_version');
    RETURN NEW;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION crowdflow_bump_settings_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."settingsVersion" := nextval('crowdflow_data_version');
    RETURN NEW;
END $$;
-- +goose StatementEnd

-- "UPDATE OF column": the triggers fire only for statements that set the
-- column, not for the counters every page bumps on the same rows.
CREATE TRIGGER "integrationRuns_pipelineVersion" BEFORE UPDATE OF "pipelineData" ON "integrationRuns"
    FOR EACH ROW EXECUTE FUNCTION crowdflow_bump_pipeline_version();
CREATE TRIGGER "integrations_settingsVersion" BEFORE UPDATE OF settings ON integrations
    FOR EACH ROW EXECUTE FUNCTION crowdflow_bump_settings_version();

-- +goose Down
DROP TRIGGER "integrationRuns_pipelineVersion" ON "integrationRuns";
DROP TRIGGER "integrations_settingsVersion" ON integrations;
DROP FUNCTION crowdflow_bump_pipeline_version();
DROP FUNCTION crowdflow_bump_settings_version();
ALTER TABLE "integrationRuns" DROP COLUMN "pipelineVersion";
ALTER TABLE integrations DROP COLUMN "settingsVersion";
DROP SEQUENCE crowdflow_data_version;
