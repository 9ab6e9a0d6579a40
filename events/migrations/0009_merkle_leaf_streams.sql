-- Which event the notary notarised at each leaf, by stream and version (events/notary.py).
-- When the log no longer reproduces a signed checkpoint because events were deleted,
-- `casework verify` finds the global positions the checkpoint covered that the log no
-- longer has (from the leaves, proven authentic against the checkpoint's root) and
-- names them by these columns: the stream and its versions, not only positions.
--
-- They are the notary's record, not part of a leaf's hash (a leaf binds the event's
-- stored bytes, events/merkle.py); nothing trusts them for more than naming what is
-- gone. Leaves notarised before this migration are filled in from the log as it stands.
ALTER TABLE merkle_leaves ADD COLUMN IF NOT EXISTS stream_id text;
ALTER TABLE merkle_leaves ADD COLUMN IF NOT EXISTS stream_version bigint;

UPDATE merkle_leaves l
   SET stream_id = e.stream_id, stream_version = e.stream_version
  FROM events e
 WHERE e.global_position = l.global_position AND l.stream_id IS NULL;
