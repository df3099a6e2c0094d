-- A read-only role for analysts on a shared PostgreSQL store (see docs/operations-postgres.md).
-- Run as the database owner after `monitor db upgrade`, and again after each upgrade that adds
-- tables. Members can list, show, query and report on hits; they cannot change anything, and
-- they cannot read the Telegram session (its auth key) or the cached access hashes.
CREATE ROLE monitor_analyst NOLOGIN;
GRANT USAGE ON SCHEMA public TO monitor_analyst;
GRANT SELECT ON
    alembic_version,
    banks,
    entries,
    entry_frames,
    entry_events,
    channels,
    media,
    sightings,
    hits,
    audit_log,
    watched_channels,
    flood_waits,
    alert_deliveries,
    suppressions,
    takedowns,
    takedown_checks,
    v_hits,
    v_channel_activity
TO monitor_analyst;
-- Deliberately not granted: telegram_sessions (the account's auth key), telegram_entities and
-- telegram_update_states (access hashes and update state of the daemon's account).
