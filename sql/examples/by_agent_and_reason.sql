-- Agents with consistent refusals: refusals by agent and reason over two weeks, New York time.
SET agent_refusal.time_zone = 'America/New_York';

SELECT refusing_agent_id, full_name, reason, count(*) AS refusals
FROM agent_refusal('2026-03-02', '2026-03-15')
GROUP BY refusing_agent_id, full_name, reason
ORDER BY refusals DESC, refusing_agent_id, reason
LIMIT 10;
