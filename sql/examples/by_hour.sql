-- When refusals happen: by local hour of day (DST handled: 09:00 is 09:00 before and after the change).
SET agent_refusal.time_zone = 'America/New_York';

SELECT extract(hour FROM refuse_time) AS hour, count(*) AS refusals
FROM agent_refusal('2026-03-02', '2026-03-15')
GROUP BY 1
ORDER BY 1;
