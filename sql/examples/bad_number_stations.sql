-- Stations with telephony trouble: Bad Number refusals by station, with the station's phone.
SET agent_refusal.time_zone = 'America/New_York';

SELECT r.station_id, s.phone, count(*) AS bad_number, count(DISTINCT r.refusing_agent_id) AS agents
FROM agent_refusal('2026-02-16', '2026-03-29') AS r
JOIN stations AS s ON s.station_id = r.station_id
WHERE r.reason = 'Bad Number'
GROUP BY r.station_id, s.phone
ORDER BY bad_number DESC
LIMIT 5;
