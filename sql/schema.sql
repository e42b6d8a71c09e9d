-- The input tables of the Agent Refusal report, as DataFusion external tables.
-- Point LOCATION at your files (a file, or a folder of files of one format); extra columns are
-- fine and ignored. `agent-refusal --data DIR` does the same for NAME.csv/.parquet/.json files.

-- One row per refusal event. refuse_time without a zone is UTC; ISO-8601 text is accepted too.
CREATE EXTERNAL TABLE refusals (
  contact_id  BIGINT    NOT NULL,  -- the contact that was refused
  agent_id    BIGINT    NOT NULL,  -- the agent who refused it
  station_id  BIGINT,              -- the station the agent used, if any
  reason      VARCHAR,             -- raw reason: 'NoAnswer', 'no answer', 'Bad Number', 0, ...
  refuse_time TIMESTAMP NOT NULL   -- when (UTC)
) STORED AS PARQUET LOCATION 'data/refusals/';
-- When every refusals file is sorted by time, declare it (append WITH ORDER (refuse_time ASC) to the
-- statement above, or give the CLI --order refusals=refuse_time): the report then only sorts the
-- events of each instant instead of the whole window.

-- Contacts and the last agent who handled each (NULL when none did).
CREATE EXTERNAL TABLE contacts (
  contact_id BIGINT NOT NULL,
  agent_id   BIGINT
) STORED AS PARQUET LOCATION 'data/contacts.parquet';

-- Agents and their names.
CREATE EXTERNAL TABLE agents (
  agent_id   BIGINT NOT NULL,
  first_name VARCHAR,
  last_name  VARCHAR
) STORED AS PARQUET LOCATION 'data/agents.parquet';

-- Stations (optional: the report does not need it; it is there for your joins).
CREATE EXTERNAL TABLE stations (
  station_id BIGINT NOT NULL
) STORED AS PARQUET LOCATION 'data/stations.parquet';
