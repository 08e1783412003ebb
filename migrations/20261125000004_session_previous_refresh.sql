-- The hash of the refresh token a rotation replaced. Presenting that token again is
-- reuse (one of two holders was a thief) and ends the session; presenting a made-up
-- token for an older generation proves nothing and must not end anybody's session.
ALTER TABLE sessions ADD COLUMN previous_refresh_hash bytea;
