-- The rows every flaskr test starts with, as flaskr's tests/data.sql: two users and one
-- post by the first. flaskr stores Werkzeug pbkdf2 hashes of the passwords "test" and
-- "other"; these are argon2id hashes of the same two passwords, made with the app's own
-- `generate_password_hash` (argon2's default parameters).

INSERT INTO user (username, password)
VALUES
  ('test', '$argon2id$v=19$m=19456,t=2,p=1$ebvZANDdqtduW1BEBNSfcw$JLGeb4MmZSknY/LkApTUPCdlDC3acf9FftYAdaMS6Jk'),
  ('other', '$argon2id$v=19$m=19456,t=2,p=1$XdYojXpASsoT0KoLo/AnoA$IGskJqKJlmWK3sEzAd0pyGpURAirdL2wqvIiExfFydA');

INSERT INTO post (title, body, author_id, created)
VALUES
  ('test title', 'test' || x'0a' || 'body', 1, '2018-01-01 00:00:00');
