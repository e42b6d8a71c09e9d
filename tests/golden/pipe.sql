-- piped to `agent-refusal --data tests/golden/data`: statements over several lines, a setting
SET agent_refusal.time_zone = 'America/New_York';
SELECT contact_id, agent_no, full_name, reason, refuse_time
FROM agent_refusal('2026-03-08', '2026-03-08')
ORDER BY contact_id;
SELECT reason, refusal_reason_text(reason) IS NOT NULL AS known
FROM (VALUES ('no answer'), ('fax')) AS t(reason);
