-- Escalation notifications: one row per (escalation level, recipient). The row is the
-- recipient's in-app inbox entry and the delivery record of its webhook; its key is
-- the Idempotency-Key the receiver sees, so a retried delivery is recognised.
CREATE TABLE IF NOT EXISTS notification_outbox (
    key            text PRIMARY KEY,
    case_id        uuid        NOT NULL,
    escalation_id  text        NOT NULL,
    level          integer     NOT NULL,
    recipient      text        NOT NULL,
    notify_role    text        NOT NULL,
    channel_url    text,
    document       jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz,
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text
);
CREATE INDEX IF NOT EXISTS notification_outbox_recipient ON notification_outbox (recipient, created_at);
CREATE INDEX IF NOT EXISTS notification_outbox_undelivered ON notification_outbox (created_at)
    WHERE delivered_at IS NULL;
