-- Each decision on a device authorization carries its own random id, so the audit row that
-- follows the decision is guarded by that decision alone: a second submission of the same
-- form in the same second (same person, same time) loses its claim and writes nothing.
ALTER TABLE device_codes ADD COLUMN decision_id TEXT;
